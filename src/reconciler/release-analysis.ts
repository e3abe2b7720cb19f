// Where a canary's analysis gets its numbers in the daemon: the router's
// per-route, per-version counters over its admin API (GET /routes), summed
// over the routes of one service and the slots of one version; and an
// optional Prometheus instant query. A router that does not answer gives no
// numbers (the analysis sees no requests and extends its pause, it never
// passes on missing data).

import type { AnalysisSource } from '../apply/rollout.js';
import type { RouterClient } from '../router/client.js';
import type { RouteVersionStats } from '../router/route-stats.js';
import type { VersionTotals } from '../strategies/analysis.js';

const PROMETHEUS_TIMEOUT_MS = 5_000;

export function releaseAnalysis(client: RouterClient | undefined): AnalysisSource {
  return {
    totals: async (route, version) => {
      if (client === undefined) return undefined;
      const stats = await client.routes().catch(() => undefined);
      return stats === undefined ? undefined : versionTotals(stats.routes, route, version);
    },
    prometheus: (url, query) => prometheusValue(url, query),
  };
}

/** The counters of `version` on the routes named `route`, summed (a service may have several routes; a version several slots). */
export function versionTotals(stats: readonly RouteVersionStats[], route: string, version: string): VersionTotals {
  const mine = stats.filter((s) => s.route === route && s.version === version);
  const bounds = mine[0]?.latency.buckets.filter((b) => b.le !== '+Inf').map((b) => (b.le as number) * 1000) ?? [];
  const buckets = new Array<number>(bounds.length + 1).fill(0);
  let requests = 0;
  let errors = 0;
  for (const s of mine) {
    requests += s.requests;
    errors += s.errors;
    s.latency.buckets.forEach((b, i) => {
      if (i < buckets.length) buckets[i] = (buckets[i] ?? 0) + b.count;
    });
  }
  return { requests, errors, boundsMs: bounds, buckets };
}

/** The first sample of an instant query, or why there is none. */
export async function prometheusValue(url: string, query: string): Promise<number | string> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(PROMETHEUS_TIMEOUT_MS) });
    if (!res.ok) return `HTTP ${res.status}`;
    const body = (await res.json()) as { status?: string; data?: { resultType?: string; result?: unknown } };
    const result = body.data?.result;
    const sample = Array.isArray(result) ? (result[0] as { value?: [number, string] } | undefined)?.value?.[1] : Array.isArray(result) ? undefined : (result as [number, string] | undefined)?.[1];
    const n = Number(sample);
    return sample === undefined ? 'the query returned no sample' : Number.isFinite(n) ? n : `not a number: ${String(sample)}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
