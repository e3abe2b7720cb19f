// The daemon's self-healing glue between lane passes: feeds the planner the
// run history of crash-looping replicas, tells each lane when to look again
// (a backoff ending, a death the engine's list does not show yet), counts
// restarts and heal times by each operation's reason, and tells status which
// replicas crash-loop (with their exit code and last log lines). Kept per
// stack, so lanes never overwrite one another's knowledge. The history is
// rebuilt from the engine's State after a restart, so nothing here is needed
// for correctness that a kill -9 could lose beyond the crash count.

import { appendRun, BACKOFF_RESET_MS, crashBackoff, type RunRecord } from '../health/backoff.js';
import type { HealMetrics } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import type { Operation, Plan } from '../plan/operations.js';
import type { HealingInput } from '../plan/planner.js';
import { serviceKey, type CrashLoop } from '../status/service-health.js';

export interface HealerOptions {
  logger: Logger;
  now: () => number;
  logTail: (containerId: string) => Promise<string[]>;
  metrics: HealMetrics;
  /** Whether a replica is ready (running, healthy, its probe passing): a heal ends when its replacement is. */
  isReady: (c: ObservedContainer) => boolean;
}

/** What a lane planned: the plan and the snapshot it was made from. */
export interface PlannedPass {
  plan: Plan;
  observed: ObservedState;
}

// The engine's list catches up with a death within tens of milliseconds; each
// look is one no-op lane pass (a few ms), so look often, for at most 2 s.
const RECHECK_MS = 25;
const RECHECK_TRIES = 80;
/** A backoff's wake comes a moment after it ends, so the pass sees it ended. */
const WAKE_SLACK_MS = 20;

const DEATH_ACTIONS = new Set(['die', 'destroy', 'kill', 'oom', 'stop']);

export class Healer {
  /** Finished runs by container id, and the stack each container belongs to. */
  private readonly runs = new Map<string, { stack: string; runs: RunRecord[] }>();
  /** Replica name → when the engine reported it dead, for heal durations. */
  private readonly lostAt = new Map<string, number>();
  /** Replica name → when it was lost, for replacements started but not yet ready. */
  private readonly replacing = new Map<string, number>();
  /** Replica names removed for failing liveness: their re-creation is counted as that, not as a missing replica. */
  private readonly failedLiveness = new Set<string>();
  /** Containers removed on purpose: their death is a deploy, not something to heal (forgotten at their destroy event). */
  private readonly removing = new Set<string>();
  private readonly logCache = new Map<string, { finishedAt: number; lines: string[] }>();
  private readonly loops = new Map<string, Promise<ReadonlyMap<string, CrashLoop>>>();
  /** Container id → passes that still listed it running after its death event (the engine's list lags the event). */
  private readonly unconfirmedDeaths = new Map<string, { stack: string; tries: number }>();
  /** Runs that ended before this (ms) are not the replicas' doing: the engine went away and stopped them. */
  private engineLostAt = 0;

  constructor(private readonly opts: HealerOptions) {}

  /**
   * The engine went away (its events stream ended): a dockerd that stops or
   * restarts stops every container first, and a lane may even restart some
   * of them before it exits. Those runs ended by the engine's hand, not as
   * crashes: the crash history starts afresh, so no replica is held back or
   * called crash-looping for them. Called again when the engine is back, for
   * the runs it closed while it restored its containers. A replica that really crash-loops is found
   * again at its next two short runs. The engine's clock and ours agree: a
   * remote engine far off in time would forgive a little more or less.
   */
  engineLost(): void {
    this.engineLostAt = this.opts.now();
    for (const r of this.runs.values()) r.runs = r.runs.filter((run) => run.finishedAt > this.engineLostAt);
  }

  /** The planner's crash-loop input for one stack's snapshot. */
  input(stack: string, observed: ObservedState): HealingInput {
    const present = new Set<string>();
    for (const c of observed.containers) {
      present.add(c.id);
      const known = this.runs.get(c.id)?.runs ?? [];
      const last = c.lastRun;
      const runs = last === undefined || last.finishedAt <= this.engineLostAt ? known : appendRun(known, { startedAt: last.startedAt, finishedAt: last.finishedAt, exitCode: last.exitCode });
      this.runs.set(c.id, { stack, runs });
    }
    // Containers gone from the engine take their history (and its log lines) with them.
    for (const [id, r] of this.runs) {
      if (r.stack !== stack || present.has(id)) continue;
      this.runs.delete(id);
      this.logCache.delete(id);
    }
    return { now: this.opts.now(), runs: new Map([...this.runs].map(([id, r]) => [id, r.runs])) };
  }

  noteEvent(action: string, stack: string, name: string, time: number, containerId: string): void {
    if (!DEATH_ACTIONS.has(action.split(':')[0] ?? '')) return;
    if (this.removing.has(containerId)) {
      if (action === 'destroy') this.removing.delete(containerId);
      return;
    }
    if (!this.lostAt.has(name)) this.lostAt.set(name, time > 0 ? time : this.opts.now());
    if (action !== 'destroy') this.unconfirmedDeaths.set(containerId, { stack, tries: 0 });
  }

  /** A container is about to be removed on purpose (a rollout, a scale-down). */
  noteRemoving(containerId: string): void {
    this.removing.add(containerId);
  }

  /** The prober's verdict: `name` failed liveness and is being removed; the next pass re-creates it. */
  noteLivenessFailure(name: string): void {
    this.failedLiveness.add(name);
  }

  /** The crash loops of one stack at its last planned pass, by `stack/service` (waits for their log lines). */
  crashLoops(stack: string): Promise<ReadonlyMap<string, CrashLoop>> {
    return this.loops.get(stack) ?? Promise.resolve(new Map());
  }

  /**
   * Every planned lane pass, even one whose apply then fails (a name conflict
   * elsewhere must not stall backoff or reports). Returns when the lane wants
   * to look again for healing's sake: a backoff ending, or a death the
   * engine's list does not show yet.
   */
  planned(stack: string, pass: PlannedPass): number | undefined {
    this.finishHeals(pass.observed);
    for (const op of pass.plan.operations) if (op.kind === 'remove-container' || op.kind === 'recreate-container') this.removing.add(op.containerId);
    // Set before the pass ends, so the status report of this pass waits for these and not older ones.
    this.loops.set(stack, this.findCrashLoops(pass.observed).catch((err: unknown) => {
      this.opts.logger.warn({ err, stack }, 'cannot tell which replicas crash-loop');
      return new Map();
    }));
    const backoffEnds = pass.plan.heldBack.length === 0 ? undefined : Math.min(...pass.plan.heldBack.map((h) => h.until)) + WAKE_SLACK_MS;
    const lagging = this.laggingDeath(stack, pass.observed) ? this.opts.now() + RECHECK_MS : undefined;
    return [backoffEnds, lagging].filter((t): t is number => t !== undefined).reduce<number | undefined>((a, b) => (a === undefined ? b : Math.min(a, b)), undefined);
  }

  /** After a lane pass: count the restarts it did (`done`: ids of the operations that succeeded). */
  afterPass(pass: PlannedPass, done: ReadonlySet<string>): void {
    const byName = new Map(pass.observed.containers.map((c) => [c.name, c]));
    for (const op of pass.plan.operations) {
      if (!done.has(op.id)) continue;
      if (op.kind !== 'start-container' && op.kind !== 'create-container' && op.kind !== 'recreate-container') continue;
      const reason = this.restartReason(op, byName.get(op.name));
      if (reason !== undefined) this.opts.metrics.replicaRestarted(op.stack, typeof op.service === 'string' ? op.service : op.service.name, reason);
      const lost = this.lostAt.get(op.name);
      if (lost !== undefined) {
        // A replacement that died before it was ready is still the same heal: keep the first loss.
        if (!this.replacing.has(op.name)) this.replacing.set(op.name, lost);
        this.lostAt.delete(op.name);
      }
    }
  }

  private restartReason(op: Operation, before: ObservedContainer | undefined): 'liveness' | 'missing' | 'crashed' | 'stopped' | 'drift' | undefined {
    if (op.kind === 'create-container' && this.failedLiveness.delete(op.name)) return 'liveness';
    switch (op.reason) {
      case 'replica-missing': return before === undefined ? 'missing' : undefined;
      case 'crashed': return 'crashed';
      case 'stopped': return 'stopped';
      case 'image-drift': return 'drift';
      default: return undefined;
    }
  }

  /**
   * A `die` event can arrive while the engine still lists the container as
   * running; the pass it woke then sees nothing to do. Look again shortly, a
   * bounded number of times, until the snapshot agrees.
   */
  private laggingDeath(stack: string, observed: ObservedState): boolean {
    const byId = new Map(observed.containers.map((c) => [c.id, c]));
    let lagging = false;
    for (const [id, death] of this.unconfirmedDeaths) {
      if (death.stack !== stack) continue;
      const c = byId.get(id);
      if (c === undefined || c.state !== 'running' || death.tries >= RECHECK_TRIES) {
        this.unconfirmedDeaths.delete(id);
        continue;
      }
      death.tries++;
      lagging = true;
    }
    return lagging;
  }

  /** A heal ends when a pass sees the replacement ready (the prober wakes the lane when it becomes ready). */
  private finishHeals(observed: ObservedState): void {
    if (this.replacing.size === 0) return;
    const now = this.opts.now();
    for (const c of observed.containers) {
      const lost = this.replacing.get(c.name);
      if (lost === undefined || !this.opts.isReady(c)) continue;
      this.opts.metrics.healed(Math.max(0, now - lost) / 1000);
      this.replacing.delete(c.name);
    }
  }

  /**
   * A replica crash-loops from its second short run in a row, and keeps doing
   * so once restarted until it has run for the reset window: the status must
   * not flap between crashes.
   */
  private async findCrashLoops(observed: ObservedState): Promise<Map<string, CrashLoop>> {
    const now = this.opts.now();
    const loops = new Map<string, CrashLoop>();
    for (const c of observed.containers) {
      const key = serviceKey(c.stack, c.service);
      if (loops.has(key)) continue;
      const runs = this.runs.get(c.id)?.runs ?? [];
      const backoff = crashBackoff(runs, now);
      const last = runs.at(-1);
      if (backoff.crashes < 2 || last === undefined) continue;
      if (c.state === 'running' && now - last.finishedAt >= BACKOFF_RESET_MS) continue;
      loops.set(key, {
        replica: c.name, crashes: backoff.crashes, exitCode: last.exitCode,
        logLines: await this.logsOf(c), nextRestartAt: c.state !== 'running' && backoff.waiting ? backoff.until : undefined,
      });
    }
    return loops;
  }

  /** Fetched once per failed run, not on every pass of a long backoff. */
  private async logsOf(c: ObservedContainer): Promise<string[]> {
    const finishedAt = this.runs.get(c.id)?.runs.at(-1)?.finishedAt ?? 0;
    const cached = this.logCache.get(c.id);
    if (cached?.finishedAt === finishedAt) return cached.lines;
    let lines: string[] = [];
    try {
      lines = await this.opts.logTail(c.id);
    } catch (err) {
      this.opts.logger.debug({ err, container: c.name }, 'cannot read the log of a failing container');
    }
    this.logCache.set(c.id, { finishedAt, lines });
    return lines;
  }
}
