// Request rate, error rate and p95 latency per service and version, for the
// dashboard's charts, from the router's own counters. A TrafficSource gives
// cumulative counters (as Prometheus counters are); the meter turns two
// samples into rates and p95 (as Prometheus' histogram_quantile does). The
// daemon's source is the router's admin API: requests and errors per backend
// (/stats, L4 and L7 alike) summed per service and revision, and the latency
// histogram of each L7 route per version (/routes, the one behind
// capstan_router_route_request_duration_seconds); a service served only on
// published ports has no latency, and its p95 stays empty.

import type { ObservedContainer } from '../../observed/model.js';
import type { RouteVersionStats } from '../../router/route-stats.js';
import { replicaVersion } from '../../router/routes.js';

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

/**
 * The 95th percentile of the requests in the interval, from cumulative
 * buckets: linear within the bucket it falls in (from the bound below, 0 for
 * the first), and the highest finite bound when it falls above them all.
 */
export function p95(now: TrafficCounter['latency'], before: TrafficCounter['latency']): number | null {
  if (now === undefined) return null;
  const counts = now.counts.map((n, i) => n - (before?.le.length === now.le.length ? before.counts[i] ?? 0 : 0));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = 0.95 * total;
  const i = counts.findIndex((n) => n >= rank);
  const upper = now.le[i];
  if (upper === undefined || !Number.isFinite(upper)) return now.le.filter(Number.isFinite).at(-1) ?? null;
  const lower = i === 0 ? 0 : now.le[i - 1] ?? 0;
  const below = i === 0 ? 0 : counts[i - 1] ?? 0;
  const inBucket = (counts[i] ?? 0) - below;
  const ms = inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  return Math.round(ms * 10) / 10;
}

/**
 * Router /stats backends (`<container>:<port>`) summed per replica's stack,
 * service and revision; the latency histograms of /routes (an L7 route is
 * named `<stack>/<service>`, a version is a spec hash) added to the counter
 * of the revision whose replicas run that spec.
 */
export function countersFromRouter(backends: readonly { id: string; total: number; errors: number }[], routes: readonly RouteVersionStats[], replicas: readonly ObservedContainer[]): TrafficCounter[] {
  const byName = new Map(replicas.map((c) => [c.name, c]));
  const sums = new Map<string, TrafficCounter>();
  const counterOf = (c: ObservedContainer): TrafficCounter => {
    const fresh: TrafficCounter = { stack: c.stack, service: c.service, version: c.revision.slice(0, 7), requests: 0, errors: 0 };
    const known = sums.get(key(fresh));
    if (known !== undefined) return known;
    sums.set(key(fresh), fresh);
    return fresh;
  };
  for (const b of backends) {
    const name = b.id.slice(0, b.id.lastIndexOf(':'));
    // A promoted start-first twin keeps serving under its new name; before that it is `<name>-next`.
    const c = byName.get(name) ?? byName.get(name.replace(/-next$/, ''));
    if (c === undefined) continue;
    const sum = counterOf(c);
    sum.requests += b.total;
    sum.errors += b.errors;
  }
  const bySpec = new Map(replicas.map((c) => [`${c.stack}/${c.service}@${replicaVersion(c.specHash)}`, c]));
  for (const r of routes) {
    // A version no replica runs any more (retired by a rollout) has no line to add to.
    const c = bySpec.get(`${r.route}@${r.version}`);
    if (c === undefined) continue;
    const sum = counterOf(c);
    const le = r.latency.buckets.map((b) => (b.le === '+Inf' ? Infinity : b.le * 1000));
    const counts = r.latency.buckets.map((b) => b.count);
    const had = sum.latency;
    // Several slots of one version (blue-green's twins) add up bucket by bucket.
    sum.latency = had === undefined || had.le.length !== le.length ? { le, counts } : { le, counts: counts.map((n, i) => n + (had.counts[i] ?? 0)) };
  }
  return [...sums.values()];
}
