// Which paths loading one stack looked at: its Compose file, includes,
// extends, env files, build contexts, bind sources, secret and config files
// (found or not — a file that appears later changes the stack too). The
// daemon fingerprints a stack by the Git ids of exactly these, so a commit
// wakes only the lanes of the stacks it changed.

/** A map that notes every key asked for; iterating it notes `*` (the stack depends on everything). */
export class RecordingMap<V> implements ReadonlyMap<string, V> {
  constructor(private readonly inner: ReadonlyMap<string, V>, private readonly seen: Set<string>) {}

  get size(): number {
    this.seen.add('*');
    return this.inner.size;
  }
  get(key: string): V | undefined {
    this.seen.add(key);
    return this.inner.get(key);
  }
  has(key: string): boolean {
    this.seen.add(key);
    return this.inner.has(key);
  }
  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    this.seen.add('*');
    this.inner.forEach((v, k) => fn(v, k, this));
  }
  entries(): MapIterator<[string, V]> {
    this.seen.add('*');
    return this.inner.entries();
  }
  keys(): MapIterator<string> {
    this.seen.add('*');
    return this.inner.keys();
  }
  values(): MapIterator<V> {
    this.seen.add('*');
    return this.inner.values();
  }
  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}
