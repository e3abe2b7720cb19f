// Normalized values are shared read-only across plan, apply and status;
// freezing them makes an accidental mutation throw instead of drifting.

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Strings and numbers are immutable already: a 50,000-entry environment needs no call per value.
    for (const v of Object.values(value)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  }
  return value;
}
