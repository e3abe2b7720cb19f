// Healing counters in plain form (prom-client is added with /metrics by the
// server work): the names and labels are the contract, so the exporter only
// has to read them. restarts{stack,service,reason}, probe failures, and heal
// durations (engine event → replacement running) as histogram buckets.

export const HEAL_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export interface HealMetricsSnapshot {
  /** capstan_replica_restarts_total, keyed `stack\0service\0reason`. */
  restarts: ReadonlyMap<string, number>;
  /** capstan_probe_failures_total */
  probeFailures: number;
  /** capstan_heal_duration_seconds */
  healDuration: { buckets: readonly number[]; counts: readonly number[]; sum: number; count: number };
}

export class HealMetrics {
  private readonly restarts = new Map<string, number>();
  private probeFailures = 0;
  private readonly bucketCounts: number[] = HEAL_BUCKETS_S.map(() => 0);
  private sum = 0;
  private count = 0;

  replicaRestarted(stack: string, service: string, reason: string): void {
    const k = `${stack}\u0000${service}\u0000${reason}`;
    this.restarts.set(k, (this.restarts.get(k) ?? 0) + 1);
  }

  probeFailed(): void {
    this.probeFailures++;
  }

  healed(seconds: number): void {
    this.sum += seconds;
    this.count++;
    HEAL_BUCKETS_S.forEach((b, i) => {
      if (seconds <= b) this.bucketCounts[i] = (this.bucketCounts[i] ?? 0) + 1;
    });
  }

  snapshot(): HealMetricsSnapshot {
    return {
      restarts: new Map(this.restarts),
      probeFailures: this.probeFailures,
      healDuration: { buckets: HEAL_BUCKETS_S, counts: [...this.bucketCounts], sum: this.sum, count: this.count },
    };
  }
}
