// Writing a key a manifest chose into a plain object. Assignment is fast and
// safe for every key but `__proto__`, which would replace the prototype
// instead of adding a key: that one alone is defined as an own property.

export function setOwn<V>(obj: Record<string, V>, key: string, value: NoInfer<V>): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
