// The daemon's self-healing glue between passes: feeds the planner the run
// history of crash-looping replicas, wakes the loop when a backoff ends,
// counts restarts and heal times, and tells status which replicas crash-loop
// (with their exit code and last log lines). The history is rebuilt from the
// engine's State after a restart, so nothing here is needed for correctness
// that a kill -9 could lose beyond the crash count.

import { ApplyError } from '../errors.js';
import { appendRun, BACKOFF_RESET_MS, crashBackoff, type RunRecord } from '../health/backoff.js';
import type { HealMetrics } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import type { Operation } from '../plan/operations.js';
import type { HealingInput } from '../plan/planner.js';
import { describeOperation } from '../plan/render.js';
import { serviceKey, type CrashLoop } from '../status/service-health.js';
import type { PassResult } from './pass.js';

export interface HealerOptions {
  logger: Logger;
  now: () => number;
  /** Ask the loop for a pass. */
  trigger: (reason: string) => void;
  logTail: (containerId: string) => Promise<string[]>;
  metrics: HealMetrics;
  /** Whether a replica is ready (running, healthy, its probe passing): a heal ends when its replacement is. */
  isReady: (c: ObservedContainer) => boolean;
}

// The engine's list catches up with a death within tens of milliseconds; each
// look is one no-op pass (~10 ms), so look often, for at most 2 s.
const RECHECK_MS = 25;
const RECHECK_TRIES = 80;

const DEATH_ACTIONS = new Set(['die', 'destroy', 'kill', 'oom', 'stop']);

export class Healer {
  private runs = new Map<string, RunRecord[]>();
  private wakeTimer: NodeJS.Timeout | undefined;
  /** Replica name → when the engine reported it dead, for heal durations. */
  private readonly lostAt = new Map<string, number>();
  /** Replica name → when it was lost, for replacements started but not yet ready. */
  private readonly replacing = new Map<string, number>();
  /** Replica names removed for failing liveness: their re-creation is counted as that, not as a missing replica. */
  private readonly failedLiveness = new Set<string>();
  /** Containers a plan removes or replaces: their death is a deploy, not something to heal (forgotten at their destroy event). */
  private readonly removing = new Set<string>();
  private readonly logCache = new Map<string, { finishedAt: number; lines: string[] }>();
  private loops: Promise<ReadonlyMap<string, CrashLoop>> = Promise.resolve(new Map());
  /** The pass planned last, until it has ended. */
  private pending: Omit<PassResult, 'applied'> | undefined;
  /** Container id → passes that still listed it running after its death event (the engine's list lags the event). */
  private readonly unconfirmedDeaths = new Map<string, number>();
  private recheckTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: HealerOptions) {}

  /** The planner's crash-loop input for this pass's snapshot. */
  readonly input = (observed: ObservedState): HealingInput => {
    const next = new Map<string, RunRecord[]>();
    for (const c of observed.containers) {
      const known = this.runs.get(c.id) ?? [];
      next.set(c.id, c.lastRun === undefined ? known : appendRun(known, { startedAt: c.lastRun.startedAt, finishedAt: c.lastRun.finishedAt, exitCode: c.lastRun.exitCode }));
    }
    // Containers gone from the engine take their history (and its log lines) with them.
    this.runs = next;
    for (const id of this.logCache.keys()) if (!next.has(id)) this.logCache.delete(id);
    return { now: this.opts.now(), runs: next };
  };

  noteEvent(action: string, name: string, time: number, containerId: string): void {
    if (!DEATH_ACTIONS.has(action.split(':')[0] ?? '')) return;
    if (this.removing.has(containerId)) {
      if (action === 'destroy') this.removing.delete(containerId);
      return;
    }
    if (!this.lostAt.has(name)) this.lostAt.set(name, time > 0 ? time : this.opts.now());
    if (action !== 'destroy') this.unconfirmedDeaths.set(containerId, 0);
  }

  /** The prober's verdict: `name` failed liveness and is being removed; the next pass re-creates it. */
  noteLivenessFailure(name: string): void {
    this.failedLiveness.add(name);
  }

  /** The crash loops of the last planned pass, by `stack/service` (waits for their log lines). */
  crashLoops(): Promise<ReadonlyMap<string, CrashLoop>> {
    return this.loops;
  }

  /** After every pass: count the restarts it applied, also when other operations failed (a name conflict elsewhere must not hide heals). */
  afterPass(result: PassResult | Error): void {
    const planned = this.pending;
    this.pending = undefined;
    if (planned === undefined) return;
    if (result instanceof ApplyError) {
      const failed = new Set(result.failures.map((f) => f.operation));
      this.countHeals(planned, (op) => !failed.has(describeOperation(op)));
    } else if (!(result instanceof Error) && result.applied > 0) {
      this.countHeals(planned, () => true);
    }
  }

  /** Every planned pass, even one whose apply then fails (a name conflict elsewhere must not stall backoff or reports). */
  planned(result: Omit<PassResult, 'applied'>): void {
    this.pending = result;
    this.scheduleWake(result);
    this.recheckLaggingDeaths(result);
    this.finishHeals(result.observed);
    for (const op of result.plan.operations) if (op.kind === 'remove-container' || op.kind === 'recreate-container') this.removing.add(op.containerId);
    // Set before the pass ends, so the status report of this pass waits for these and not older ones.
    this.loops = this.findCrashLoops(result.observed).catch((err: unknown) => {
      this.opts.logger.warn({ err }, 'cannot tell which replicas crash-loop');
      return new Map();
    });
  }

  stop(): void {
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    if (this.recheckTimer !== undefined) clearTimeout(this.recheckTimer);
  }

  /**
   * A `die` event can arrive while the engine still lists the container as
   * running; the pass it triggered then sees nothing to do. Look again
   * shortly, a bounded number of times, until the snapshot agrees.
   */
  private recheckLaggingDeaths(result: Omit<PassResult, 'applied'>): void {
    const byId = new Map(result.observed.containers.map((c) => [c.id, c]));
    let lagging: string | undefined;
    for (const [id, tries] of this.unconfirmedDeaths) {
      const c = byId.get(id);
      if (c === undefined || c.state !== 'running' || tries >= RECHECK_TRIES) {
        this.unconfirmedDeaths.delete(id);
        continue;
      }
      this.unconfirmedDeaths.set(id, tries + 1);
      lagging = c.name;
    }
    if (lagging === undefined || this.recheckTimer !== undefined) return;
    const name = lagging;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      this.opts.trigger(`engine still lists ${name} as running after its death event`);
    }, RECHECK_MS);
  }

  /** One timer for the earliest held-back restart: a crash loop costs one pass per backoff step, no polling. */
  private scheduleWake(result: Omit<PassResult, 'applied'>): void {
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const first = [...result.plan.heldBack].sort((a, b) => a.until - b.until)[0];
    if (first === undefined) return;
    const delay = Math.max(0, first.until - this.opts.now()) + 20;
    this.wakeTimer = setTimeout(() => this.opts.trigger(`backoff of ${first.name} elapsed`), delay);
  }

  private countHeals(result: Omit<PassResult, 'applied'>, applied: (op: Operation) => boolean): void {
    const byName = new Map(result.observed.containers.map((c) => [c.name, c]));
    for (const op of result.plan.operations) {
      if (op.kind !== 'start-container' && op.kind !== 'create-container' && op.kind !== 'recreate-container') continue;
      if (!applied(op)) continue;
      const service = typeof op.service === 'string' ? op.service : op.service.name;
      const before = byName.get(op.name);
      const liveness = op.kind === 'create-container' && this.failedLiveness.delete(op.name);
      const reason = liveness ? 'liveness'
        : op.kind === 'create-container' ? (before === undefined && /missing/.test(op.cause) ? 'missing' : undefined)
        : op.kind === 'start-container'
          ? (before?.lastRun !== undefined && before.lastRun.exitCode !== 0 ? 'crashed' : 'stopped')
          : op.cause.startsWith('drift') ? 'drift' : undefined;
      if (reason !== undefined) this.opts.metrics.replicaRestarted(op.stack, service, reason);
      const lost = this.lostAt.get(op.name);
      if (lost !== undefined) {
        // A replacement that died before it was ready is still the same heal: keep the first loss.
        if (!this.replacing.has(op.name)) this.replacing.set(op.name, lost);
        this.lostAt.delete(op.name);
      }
    }
  }

  /** A heal ends when a pass sees the replacement ready (the prober asks for a pass when it becomes ready). */
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
      const runs = this.runs.get(c.id) ?? [];
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
    const finishedAt = this.runs.get(c.id)?.at(-1)?.finishedAt ?? 0;
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
