// Prometheus metrics of the daemon, on a registry of its own (not prom-client's
// global one, so tests and several daemons in one process never share counts).
// Lane passes and rollout progress are pushed in by the daemon, healing counts by the healer and
// prober (`heal`); container counts are read from the engine at scrape time,
// so they are as fresh as the scrape.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HealMetrics } from '../health/metrics.js';
import type { ObservedState } from '../observed/model.js';

export interface ContainerCount {
  stack: string;
  service: string;
  state: string;
  count: number;
}

/** Containers of a snapshot counted by stack, service and state. */
export function countContainers(observed: ObservedState): ContainerCount[] {
  const counts = new Map<string, ContainerCount>();
  for (const c of observed.containers) {
    const key = `${c.stack}\0${c.service}\0${c.state}`;
    const entry = counts.get(key) ?? { stack: c.stack, service: c.service, state: c.state, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/** What the metrics show of a rollout in progress. */
export interface RolloutProgressSample {
  service: string;
  batch: number;
  batches: number;
  phase: string;
}

// 'interrupted': a batch waiting out an engine restart (strategies/rolling.ts).
const ROLLOUT_PHASES = ['starting', 'awaiting', 'monitoring', 'interrupted', 'retiring', 'delay'] as const;

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly heal = new HealMetrics(this.registry);
  private readonly reconcileTotal = new Counter({ name: 'capstan_reconcile_total', help: 'Reconcile passes by result', labelNames: ['result'], registers: [this.registry] });
  private readonly reconcileDuration = new Histogram({
    name: 'capstan_reconcile_duration_seconds',
    help: 'Duration of a reconcile pass',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly gitFetchDuration = new Histogram({
    name: 'capstan_git_fetch_duration_seconds',
    help: 'Duration of resolving (fetching) the followed branch',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly lanePasses = new Counter({ name: 'capstan_lane_passes_total', help: 'Lane passes by stack and outcome (converged, progressing, superseded, failed, held, error)', labelNames: ['stack', 'outcome'], registers: [this.registry] });
  private readonly rolloutBatch = new Gauge({ name: 'capstan_rollout_batch', help: 'Batch (1-based) a rollout in progress works on', labelNames: ['stack', 'service'], registers: [this.registry] });
  private readonly rolloutBatches = new Gauge({ name: 'capstan_rollout_batches', help: 'Batches of a rollout in progress', labelNames: ['stack', 'service'], registers: [this.registry] });
  private readonly rolloutPhase = new Gauge({ name: 'capstan_rollout_phase', help: '1 for the phase a rollout in progress is in', labelNames: ['stack', 'service', 'phase'], registers: [this.registry] });
  private readonly rolloutLabels = new Map<string, { stack: string; service: string }>();
  private readonly stackReady = new Gauge({ name: 'capstan_stack_ready', help: '1 when the stack is Ready (its revision applied, its replicas ready), else 0', labelNames: ['stack'], registers: [this.registry] });
  private readonly lastApplied = new Gauge({
    name: 'capstan_last_applied_timestamp_seconds',
    help: 'When the stack was last brought to its revision',
    labelNames: ['stack'],
    registers: [this.registry],
  });

  /** The router's own metrics text (per-route, per-version counters), appended at each scrape; set once a router runs. */
  routerText: (() => Promise<string>) | undefined;

  constructor(countContainers?: () => Promise<readonly ContainerCount[]>) {
    new Gauge({
      name: 'capstan_containers',
      help: 'Containers owned by this instance, by state',
      labelNames: ['stack', 'service', 'state'],
      registers: [this.registry],
      async collect() {
        if (countContainers === undefined) return;
        this.reset();
        // An engine that does not answer must not cost the other metrics (that is when they matter most).
        const counts = await countContainers().catch(() => []);
        for (const c of counts) this.set({ stack: c.stack, service: c.service, state: c.state }, c.count);
      },
    });
  }

  /**
   * One lane pass: `outcome` is converged, progressing, superseded, failed or
   * held (`error` when the pass itself threw); `ready` whether its stack is
   * Ready now, `applied` whether it converged on a new revision just now.
   */
  recordPass(stack: string, outcome: string, seconds: number, ready: boolean, appliedAtSeconds: number | undefined): void {
    this.reconcileTotal.inc({ result: outcome === 'failed' || outcome === 'error' ? 'error' : outcome === 'held' ? 'held' : 'success' });
    this.lanePasses.inc({ stack, outcome });
    this.reconcileDuration.observe(seconds);
    this.stackReady.set({ stack }, ready ? 1 : 0);
    if (appliedAtSeconds !== undefined) this.lastApplied.set({ stack }, appliedAtSeconds);
  }

  /** The rollouts of one stack in progress now (an empty list clears the stack's). */
  recordProgress(stack: string, progress: readonly RolloutProgressSample[]): void {
    for (const [key, labels] of this.rolloutLabels) {
      if (labels.stack !== stack || progress.some((p) => p.service === labels.service)) continue;
      this.rolloutBatch.remove(labels);
      this.rolloutBatches.remove(labels);
      for (const phase of ROLLOUT_PHASES) this.rolloutPhase.remove({ ...labels, phase });
      this.rolloutLabels.delete(key);
    }
    for (const p of progress) {
      const labels = { stack, service: p.service };
      this.rolloutLabels.set(`${stack}/${p.service}`, labels);
      this.rolloutBatch.set(labels, p.batch);
      this.rolloutBatches.set(labels, p.batches);
      for (const phase of ROLLOUT_PHASES) this.rolloutPhase.set({ ...labels, phase }, phase === p.phase ? 1 : 0);
    }
  }

  private readonly autoscaleReplicas = new Gauge({ name: 'capstan_autoscale_replicas', help: 'Replicas the autoscaler chose for a service', labelNames: ['stack', 'service'], registers: [this.registry] });
  private readonly autoscalePerReplica = new Gauge({ name: 'capstan_autoscale_metric_per_replica', help: 'Last load sample per replica (requests/s or CPU %) an autoscaled service was judged on', labelNames: ['stack', 'service', 'metric'], registers: [this.registry] });
  private readonly autoscaleLimited = new Gauge({ name: 'capstan_autoscale_limited', help: '1 while a bound (min or max) has held an autoscaled service for longer than its cooldown', labelNames: ['stack', 'service', 'bound'], registers: [this.registry] });

  /** The autoscaler's counts now (every autoscaled service, each time). */
  recordAutoscale(info: readonly { stack: string; service: string; replicas: number; metric: string; perReplica: number | undefined; limited: { bound: string } | undefined }[]): void {
    this.autoscaleReplicas.reset();
    this.autoscalePerReplica.reset();
    this.autoscaleLimited.reset();
    for (const a of info) {
      this.autoscaleReplicas.set({ stack: a.stack, service: a.service }, a.replicas);
      if (a.perReplica !== undefined) this.autoscalePerReplica.set({ stack: a.stack, service: a.service, metric: a.metric }, a.perReplica);
      for (const bound of ['min', 'max']) this.autoscaleLimited.set({ stack: a.stack, service: a.service, bound }, a.limited?.bound === bound ? 1 : 0);
    }
  }

  recordGitFetch(seconds: number): void {
    this.gitFetchDuration.observe(seconds);
  }

  /** The exposition text of /metrics: the daemon's metrics, then the router's (a router that does not answer costs only its part). */
  async text(): Promise<string> {
    const own = await this.registry.metrics();
    const router = this.routerText === undefined ? '' : await this.routerText().catch(() => '');
    return router === '' ? own : `${own}${own.endsWith('\n') ? '' : '\n'}${router}`;
  }
}
