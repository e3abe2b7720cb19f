// A canary's analysis (DESIGN §2), pure: the router's cumulative counters of
// one version — requests, errors (5xx answers and refused connects), a
// latency histogram — are read at each evaluation; what came in since the
// window began is judged against the thresholds. A window with fewer than
// min_requests is not judged: it stays open and grows until it has enough.
// Counters that went down (a restarted router) start a new window.

import type { AnalysisSpec } from '../manifests/model.js';
import type { Evaluation } from './step.js';

/** Cumulative counts of one version, as the router keeps them. */
export interface VersionTotals {
  requests: number;
  errors: number;
  /** Upper bounds (ms) of the latency buckets, ascending; the last bucket (+Inf) has none. */
  boundsMs: readonly number[];
  /** Cumulative count per bucket, one more than boundsMs (the last is +Inf, i.e. every answered request). */
  buckets: readonly number[];
}

export const NO_TRAFFIC: VersionTotals = { requests: 0, errors: 0, boundsMs: [], buckets: [0] };

/** What came in between two readings; undefined when the counters went down (reset). */
export function delta(now: VersionTotals, start: VersionTotals): VersionTotals | undefined {
  if (now.requests < start.requests || now.errors < start.errors) return undefined;
  const sameBuckets = start.buckets.length === now.buckets.length;
  const buckets = now.buckets.map((n, i) => n - (sameBuckets ? (start.buckets[i] ?? 0) : 0));
  if (buckets.some((n) => n < 0)) return undefined;
  return { requests: now.requests - start.requests, errors: now.errors - start.errors, boundsMs: now.boundsMs, buckets };
}

/** The 95th percentile in ms, interpolated inside its bucket as Prometheus' histogram_quantile does; undefined without answers. */
export function p95(t: VersionTotals, q = 0.95): number | undefined {
  const total = t.buckets[t.buckets.length - 1] ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < t.buckets.length; i++) {
    const cum = t.buckets[i] ?? 0;
    if (cum < rank) continue;
    const upper = t.boundsMs[i];
    // Above the largest bound: the largest bound is all that is known.
    if (upper === undefined) return t.boundsMs[t.boundsMs.length - 1];
    const lower = i === 0 ? 0 : (t.boundsMs[i - 1] ?? 0);
    const below = i === 0 ? 0 : (t.buckets[i - 1] ?? 0);
    const inBucket = cum - below;
    return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return t.boundsMs[t.boundsMs.length - 1];
}

/**
 * Judges one window. `prometheus` is the query's value (or why it could not
 * be read: a query that cannot be answered fails the evaluation, as an
 * unreachable metrics provider fails an Argo analysis run).
 */
export function evaluate(spec: AnalysisSpec, window: VersionTotals, prometheus: number | string | undefined, at: number): Evaluation | undefined {
  if (window.requests < spec.minRequests && spec.minRequests > 0) return undefined;
  const errorRate = window.requests === 0 ? undefined : window.errors / window.requests;
  const latency = p95(window);
  const failures: string[] = [];
  if (spec.maxErrorRate !== undefined && errorRate !== undefined && errorRate > spec.maxErrorRate) {
    failures.push(`error rate ${percent(errorRate)} > ${percent(spec.maxErrorRate)} (${window.errors} of ${window.requests} requests)`);
  }
  if (spec.maxP95Ms !== undefined && latency !== undefined && latency > spec.maxP95Ms) {
    failures.push(`p95 latency ${Math.round(latency)} ms > ${spec.maxP95Ms} ms over ${window.requests} requests`);
  }
  let prom: number | undefined;
  if (spec.prometheus !== undefined) {
    if (typeof prometheus === 'number') {
      prom = prometheus;
      if (prometheus > spec.prometheus.max) failures.push(`prometheus ${spec.prometheus.query} = ${round(prometheus)} > ${spec.prometheus.max}`);
    } else {
      failures.push(`prometheus query failed: ${prometheus ?? 'no answer'}`);
    }
  }
  return {
    at, requests: window.requests, errors: window.errors, errorRate, p95Ms: latency === undefined ? undefined : Math.round(latency), prometheus: prom,
    ok: failures.length === 0, reason: failures.length === 0 ? undefined : failures.join('; '),
  };
}

/** `error rate ≤ 1 %, p95 ≤ 500 ms, ≥ 20 requests` — for plans and logs. */
export function describeAnalysis(spec: AnalysisSpec): string {
  const parts: string[] = [];
  if (spec.maxErrorRate !== undefined) parts.push(`error rate ≤ ${percent(spec.maxErrorRate)}`);
  if (spec.maxP95Ms !== undefined) parts.push(`p95 ≤ ${spec.maxP95Ms} ms`);
  if (spec.prometheus !== undefined) parts.push(`prometheus ≤ ${spec.prometheus.max}`);
  return `${parts.join(', ')} every ${seconds(spec.intervalMs)} over ≥ ${spec.minRequests} requests`;
}

export function percent(ratio: number): string {
  return `${round(ratio * 100)} %`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

export function seconds(ms: number): string {
  return ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000} min` : ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
