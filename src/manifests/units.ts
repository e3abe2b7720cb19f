// Compose's scalar units: Go-style durations ("1m30s") to milliseconds,
// Docker byte sizes ("512m") to bytes, CPU counts ("0.5") to nano-CPUs.
// Each returns undefined for malformed input; the schema turns that into an error.

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDurationMs(input: string | number): number | undefined {
  // A bare number is only unambiguous when it is zero.
  if (typeof input === 'number') return input === 0 ? 0 : undefined;
  const s = input.trim();
  if (s === '0') return 0;
  if (s === '') return undefined;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (m === null) return undefined;
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? NaN);
    i = re.lastIndex;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: binary multiples, optional "b"/"ib" suffix, case-insensitive. */
export function parseBytes(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 ? input : undefined;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(i?b)?$/i.exec(input.trim());
  if (m === null) return undefined;
  const mult = BYTE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.trunc(Number(m[1]) * mult);
}

export function parseNanoCpus(input: string | number): number | undefined {
  const n = typeof input === 'number' ? input : /^\d*\.?\d+$/.test(input.trim()) ? Number(input) : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.round(n * 1e9) : undefined;
}

/** A non-negative integer from a YAML number or an interpolated string. */
export function parseNonNegativeInt(input: string | number): number | undefined {
  const n = typeof input === 'number' ? input : /^\d+$/.test(input.trim()) ? Number(input.trim()) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
