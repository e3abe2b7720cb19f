// Healing metrics (issue 4), registered on the daemon's one registry so
// /metrics serves them beside the reconcile metrics: replica restarts by
// stack, service and reason, failed probes, and heal durations (engine event
// → replacement started). The healer and the prober only call the methods.

import { Counter, Histogram, type Registry } from 'prom-client';

export type RestartReason = 'missing' | 'crashed' | 'stopped' | 'drift' | 'liveness';

export class HealMetrics {
  private readonly restarts: Counter<'stack' | 'service' | 'reason'>;
  private readonly probeFailures: Counter;
  private readonly healDuration: Histogram;

  constructor(registry: Registry) {
    this.restarts = new Counter({
      name: 'capstan_replica_restarts_total',
      help: 'Replicas restarted or replaced by self-healing, by reason (missing, crashed, stopped, drift, liveness)',
      labelNames: ['stack', 'service', 'reason'],
      registers: [registry],
    });
    this.probeFailures = new Counter({ name: 'capstan_probe_failures_total', help: 'x-capstan.probe checks that failed', registers: [registry] });
    this.healDuration = new Histogram({
      name: 'capstan_heal_duration_seconds',
      help: 'From the engine reporting a replica dead or gone to its replacement being started',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
  }

  /** Told of every restart as well (the dashboard's event feed). */
  onRestart: ((stack: string, service: string, reason: RestartReason) => void) | undefined;

  replicaRestarted(stack: string, service: string, reason: RestartReason): void {
    this.restarts.inc({ stack, service, reason });
    this.onRestart?.(stack, service, reason);
  }

  probeFailed(): void {
    this.probeFailures.inc();
  }

  healed(seconds: number): void {
    this.healDuration.observe(seconds);
  }
}
