// Small statistics over repeated samples. The median is the headline number:
// on a 2-core machine shared with dockerd, one slow outlier (a GC, a
// containerd hiccup) must not decide a ratio.

export interface Samples {
  readonly values: readonly number[];
  readonly median: number;
  readonly p95: number;
  readonly min: number;
}

export function summarize(values: readonly number[]): Samples {
  if (values.length === 0) throw new Error('summarize: no samples');
  const sorted = [...values].sort((a, b) => a - b);
  return {
    values: [...values],
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    min: sorted[0] ?? 0,
  };
}

/** Linear interpolation between closest ranks (numpy's default). */
function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (pos - lo);
}

/** Run `once` `n` times in sequence (never in parallel: they share the engine). */
export async function repeat(n: number, once: (i: number) => Promise<number>): Promise<Samples> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(await once(i));
  return summarize(values);
}

export async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Poll `check` until true, bounded by both a count and a deadline; returns ms waited. */
export async function waitUntil(what: string, check: () => Promise<boolean>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const intervalMs = opts.intervalMs ?? 50;
  const maxPolls = Math.ceil(timeoutMs / intervalMs) + 1;
  const started = performance.now();
  for (let i = 0; i < maxPolls; i++) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** Polls `fn` until it returns a value (a throw counts as not yet), bounded by a deadline; returns that value. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms: number, stepMs = 10): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
