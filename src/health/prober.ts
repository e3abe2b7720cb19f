// Runs each running replica's `x-capstan.probe` on its own timer and feeds
// the state machine. Its verdicts feed readiness (health/readiness.ts) for
// the router, rollouts and status; a liveness verdict (failed after having
// been ready) is handed to `onFailed` once, which replaces the replica.
// Targets come from each lane's snapshot of its stack; a replica gone from
// it stops being probed.

import type { ProbeCheck, ProbeSpec } from '../manifests/model.js';
import { initialHealth, presumedReadyHealth, probeDue, recordProbe, type ProbeResult, type ReplicaHealth } from './replica-health.js';

export interface ProbedReplica {
  containerId: string;
  name: string;
  stack: string;
  service: string;
  ip: string | undefined;
  probe: ProbeSpec;
}

/** The prober's side rollouts need (the daemon's Prober, or one of the one-shot command's own). */
export interface ProbeTracker {
  /** Starts probing a replica a rollout made, before any pass has listed it. */
  track(replica: ProbedReplica): void;
  healthOf(containerId: string): ReplicaHealth | undefined;
}

export interface ProberOptions {
  now: () => number;
  run: (replica: ProbedReplica) => Promise<ProbeResult>;
  onFailed: (replica: ProbedReplica, health: ReplicaHealth) => void;
  onProbeFailure?: (replica: ProbedReplica, result: ProbeResult) => void;
  /** A replica became ready or stopped being ready: the routing table must follow without waiting for a pass. */
  onReadinessChange?: (replica: ProbedReplica, ready: boolean) => void;
}

interface Tracked {
  replica: ProbedReplica;
  health: ReplicaHealth;
  timer: NodeJS.Timeout | undefined;
  reported: boolean;
}

export class Prober implements ProbeTracker {
  private readonly tracked = new Map<string, Tracked>();
  private stopped = false;

  constructor(private readonly opts: ProberOptions) {}

  /**
   * The replicas of `stack` to probe now (each lane syncs its own stack); new
   * ones start in `starting` (or `ready` when in `presumedReady`: served
   * before the operator restarted), vanished ones are dropped.
   */
  sync(stack: string, replicas: readonly ProbedReplica[], presumedReady: ReadonlySet<string> = new Set()): void {
    const wanted = new Map(replicas.map((r) => [r.containerId, r]));
    for (const [id, t] of this.tracked) {
      if (t.replica.stack !== stack || wanted.has(id)) continue;
      clearTimeout(t.timer);
      this.tracked.delete(id);
    }
    for (const replica of replicas) this.track(replica, presumedReady.has(replica.containerId));
  }

  /** Starts probing one replica (a rollout's new one, before any pass has seen it); known ones keep their state. */
  track(replica: ProbedReplica, presumedReady = false): void {
    const known = this.tracked.get(replica.containerId);
    if (known !== undefined) {
      known.replica = replica;
      return;
    }
    const now = this.opts.now();
    const t: Tracked = { replica, health: presumedReady ? presumedReadyHealth(now) : initialHealth(now), timer: undefined, reported: false };
    this.tracked.set(replica.containerId, t);
    this.schedule(t, replica.probe.initialDelayMs);
  }

  /** Stops probing one replica (it is being stopped on purpose). */
  forget(containerId: string): void {
    const t = this.tracked.get(containerId);
    if (t === undefined) return;
    clearTimeout(t.timer);
    this.tracked.delete(containerId);
  }

  /** The replica's check and health, for readiness; undefined when it has no probe (or is not tracked). */
  verdict(containerId: string): { check: ProbeCheck; health: ReplicaHealth } | undefined {
    const t = this.tracked.get(containerId);
    return t === undefined ? undefined : { check: t.replica.probe.check, health: t.health };
  }

  healthOf(containerId: string): ReplicaHealth | undefined {
    return this.tracked.get(containerId)?.health;
  }

  /** Every tracked replica's check and health, by container id: status says why one is not ready. */
  verdicts(): Map<string, { check: ProbeCheck; health: ReplicaHealth }> {
    return new Map([...this.tracked].map(([id, t]) => [id, { check: t.replica.probe.check, health: t.health }]));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.tracked.values()) clearTimeout(t.timer);
    this.tracked.clear();
  }

  private schedule(t: Tracked, delayMs: number): void {
    if (this.stopped) return;
    // Unref'd: probes never keep a finished one-shot command alive.
    t.timer = setTimeout(() => void this.tick(t), delayMs);
    t.timer.unref();
  }

  private async tick(t: Tracked): Promise<void> {
    const { probe } = t.replica;
    const thresholds = { initialDelayMs: probe.initialDelayMs, successThreshold: probe.successThreshold, failureThreshold: probe.failureThreshold };
    if (probeDue(t.health, this.opts.now(), thresholds)) {
      const result = await this.opts.run(t.replica);
      if (this.tracked.get(t.replica.containerId) !== t) return; // dropped meanwhile
      if (!result.ok) this.opts.onProbeFailure?.(t.replica, result);
      const wasReady = t.health.state === 'ready';
      t.health = recordProbe(t.health, result, this.opts.now(), thresholds);
      if (wasReady !== (t.health.state === 'ready')) this.opts.onReadinessChange?.(t.replica, !wasReady);
      if (t.health.state === 'failed') {
        if (!t.reported) {
          t.reported = true;
          this.opts.onFailed(t.replica, t.health);
        }
        return;
      }
    }
    this.schedule(t, probe.intervalMs);
  }
}
