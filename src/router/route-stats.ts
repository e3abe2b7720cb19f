// Per-route, per-version traffic counters: requests (each answer, and each
// attempt a replica refused), errors (5xx answers and refused connects) and a
// latency histogram of the answers, for each L7 route and
// each version (spec hash and slot) of the replicas behind it. A canary's
// analysis compares versions of one route; counters are cumulative across
// table swaps (Prometheus counters), keyed by the route's name.

/** Upper bounds of the latency buckets, in seconds (Prometheus' defaults). */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BOUNDS_MS = LATENCY_BUCKETS.map((s) => s * 1000);

export class VersionCounters {
  readonly version: string;
  readonly slot: string;
  requests = 0;
  errors = 0;
  /** Per bucket (not cumulative), the last one for above the largest bound. */
  readonly buckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  sumMs = 0;
  answered = 0;

  constructor(version: string, slot: string) {
    this.version = version;
    this.slot = slot;
  }

  /** One answered request. */
  record(status: number, ms: number): void {
    this.requests++;
    this.answered++;
    if (status >= 500) this.errors++;
    this.sumMs += ms;
    let i = 0;
    while (i < BOUNDS_MS.length && ms > BOUNDS_MS[i]!) i++;
    this.buckets[i]!++;
  }

  /** An attempt a replica of this version refused (the request itself may have been retried elsewhere). */
  connectFailed(): void {
    this.requests++;
    this.errors++;
  }
}

/** One route's counters by version. */
export class RouteCounters {
  readonly route: string;
  private readonly byVersion = new Map<string, VersionCounters>();

  constructor(route: string) {
    this.route = route;
  }

  of(version: string, slot: string): VersionCounters {
    const key = slot === '' ? version : `${version}\0${slot}`;
    let c = this.byVersion.get(key);
    if (c === undefined) {
      c = new VersionCounters(version, slot);
      this.byVersion.set(key, c);
    }
    return c;
  }

  versions(): VersionCounters[] {
    return [...this.byVersion.values()];
  }
}

/** What the admin API answers (GET /routes) and the operator reads: one entry per route and version. */
export interface RouteVersionStats {
  route: string;
  version: string;
  slot: string;
  requests: number;
  errors: number;
  latency: { sumSeconds: number; count: number; buckets: { le: number | '+Inf'; count: number }[] };
}

export class RouteStatsRegistry {
  private readonly routes = new Map<string, RouteCounters>();

  route(name: string): RouteCounters {
    let r = this.routes.get(name);
    if (r === undefined) {
      r = new RouteCounters(name);
      this.routes.set(name, r);
    }
    return r;
  }

  /** Sorted by route, then version; buckets cumulative as Prometheus has them. */
  snapshot(): RouteVersionStats[] {
    const out: RouteVersionStats[] = [];
    for (const r of this.routes.values()) {
      for (const v of r.versions()) {
        let running = 0;
        const buckets = v.buckets.map((n, i) => ({ le: i < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[i]! : ('+Inf' as const), count: (running += n) }));
        out.push({ route: r.route, version: v.version, slot: v.slot, requests: v.requests, errors: v.errors, latency: { sumSeconds: v.sumMs / 1000, count: v.answered, buckets } });
      }
    }
    const key = (s: RouteVersionStats): string => `${s.route}\0${s.version}\0${s.slot}`;
    return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
}
