// Request rate, error rate and p95 latency per service and version, for the
// dashboard's charts, from the router's own counters. A TrafficSource gives
// cumulative counters (as Prometheus counters are); the meter turns two
// samples into rates. Today's source is the router's admin /stats (requests
// and errors per backend, no latency: p95 is null); a source reading
// per-route, per-version counters with a latency histogram plugs in behind
// the same interface, and the page draws p95 as soon as `latency` is set.

import type { ObservedContainer } from '../../observed/model.js';

export interface TrafficCounter {
  stack: string;
  service: string;
  /** The revision (7 hex) or slot the requests went to: two lines during a rollout or canary. */
  version: string;
  requests: number;
  errors: number;
  /** Cumulative histogram of request durations: `le` bounds in ms (ascending, last may be Infinity) and counts at or below each. */
  latency?: { le: readonly number[]; counts: readonly number[] };
}

export interface TrafficSource {
  sample(): Promise<readonly TrafficCounter[]>;
}

export interface TrafficPoint {
  time: string;
  stack: string;
  service: string;
  version: string;
  /** Requests per second over the interval. */
  rps: number;
  /** Errors / requests over the interval; null without requests. */
  errorRate: number | null;
  /** ms; null when the source has no latency histogram or there were no requests. */
  p95Ms: number | null;
}

const key = (c: TrafficCounter): string => `${c.stack}/${c.service}@${c.version}`;

export class TrafficMeter {
  private last: { atMs: number; counters: Map<string, TrafficCounter> } | undefined;

  /** Points for the interval since the previous call (none on the first). */
  next(counters: readonly TrafficCounter[], atMs: number): TrafficPoint[] {
    const previous = this.last;
    this.last = { atMs, counters: new Map(counters.map((c) => [key(c), c])) };
    if (previous === undefined || atMs <= previous.atMs) return [];
    const seconds = (atMs - previous.atMs) / 1000;
    return counters.map((c) => {
      const before = previous.counters.get(key(c));
      // Fewer than before: a backend left the table (its counts with it) or the router restarted; skip the interval rather than draw a spike.
      const reset = before !== undefined && before.requests > c.requests;
      const requests = before === undefined ? c.requests : reset ? 0 : c.requests - before.requests;
      const errors = before === undefined ? c.errors : reset ? 0 : Math.max(0, c.errors - before.errors);
      return {
        time: new Date(atMs).toISOString(), stack: c.stack, service: c.service, version: c.version,
        rps: Math.round((requests / seconds) * 100) / 100,
        errorRate: requests === 0 ? null : Math.round((errors / requests) * 10_000) / 10_000,
        p95Ms: reset ? null : p95(c.latency, before?.latency),
      };
    });
  }
}

function p95(now: TrafficCounter['latency'], before: TrafficCounter['latency']): number | null {
  if (now === undefined) return null;
  const counts = now.counts.map((n, i) => n - (before?.le.length === now.le.length ? before.counts[i] ?? 0 : 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const i = counts.findIndex((n) => n >= 0.95 * total);
  const bound = now.le[i];
  return bound === undefined || !Number.isFinite(bound) ? (now.le.at(-2) ?? null) : bound;
}

/** Router /stats backends (`<container>:<port>`) summed per replica's stack, service and revision. */
export function countersFromRouterStats(backends: readonly { id: string; total: number; errors: number }[], replicas: readonly ObservedContainer[]): TrafficCounter[] {
  const byName = new Map(replicas.map((c) => [c.name, c]));
  const sums = new Map<string, TrafficCounter>();
  for (const b of backends) {
    const name = b.id.slice(0, b.id.lastIndexOf(':'));
    // A promoted start-first twin keeps serving under its new name; before that it is `<name>-next`.
    const c = byName.get(name) ?? byName.get(name.replace(/-next$/, ''));
    if (c === undefined) continue;
    const counter = { stack: c.stack, service: c.service, version: c.revision.slice(0, 7), requests: 0, errors: 0 };
    const sum = sums.get(key(counter)) ?? counter;
    sum.requests += b.total;
    sum.errors += b.errors;
    sums.set(key(sum), sum);
  }
  return [...sums.values()];
}
