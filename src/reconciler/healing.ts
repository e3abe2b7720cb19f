// The daemon's self-healing glue between passes: feeds the planner the run
// history of crash-looping replicas, wakes the loop when a backoff ends,
// counts restarts and heal times, and turns each pass into a ServiceHealth
// record per service (the seam the status writer reads). The history is
// rebuilt from the engine's State after a restart, so nothing here is needed
// for correctness that a kill -9 could lose beyond the crash count.

import { appendRun, BACKOFF_RESET_MS, crashBackoff, type RunRecord } from '../health/backoff.js';
import type { HealMetrics } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import type { HealingInput } from '../plan/planner.js';
import type { PassResult } from './pass.js';

export interface ServiceHealth {
  stack: string;
  service: string;
  desired: number;
  running: number;
  /** Replicas passing readiness (probe or Docker health); equals `running` for a service with neither. */
  ready: number;
  status: 'Healthy' | 'Degraded';
  reason: 'CrashLoop' | 'Unready' | 'BelowDesired' | undefined;
  message: string;
  lastExitCode: number | undefined;
  /** `docker logs --tail 5` of the failing replica, only when one failed. */
  lastLogLines: readonly string[];
}

export interface HealerOptions {
  logger: Logger;
  now: () => number;
  /** Ask the loop for a pass. */
  trigger: (reason: string) => void;
  logTail: (containerId: string) => Promise<string[]>;
  metrics: HealMetrics;
  /** Container ids the prober does not consider ready (probe failing or not yet passing); undefined → no probes. */
  notReady?: (c: ObservedContainer) => boolean;
}

const DEATH_ACTIONS = new Set(['die', 'destroy', 'kill', 'oom', 'stop']);

export class Healer {
  private runs = new Map<string, RunRecord[]>();
  private wakeTimer: NodeJS.Timeout | undefined;
  /** Replica name → when the engine reported it dead, for heal durations. */
  private readonly lostAt = new Map<string, number>();
  private readonly logCache = new Map<string, { finishedAt: number; lines: string[] }>();
  private health: readonly ServiceHealth[] = [];
  private lastLogged = new Map<string, string>();
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
    // Containers gone from the engine take their history with them.
    this.runs = next;
    return { now: this.opts.now(), runs: next };
  };

  noteEvent(action: string, name: string, time: number, containerId: string): void {
    if (!DEATH_ACTIONS.has(action.split(':')[0] ?? '')) return;
    if (!this.lostAt.has(name)) this.lostAt.set(name, time > 0 ? time : this.opts.now());
    if (action !== 'destroy') this.unconfirmedDeaths.set(containerId, 0);
  }

  serviceHealth(): readonly ServiceHealth[] {
    return this.health;
  }

  /** After the apply succeeded: count restarts and heal durations. */
  afterApply(result: PassResult): void {
    if (result.applied > 0) this.countHeals(result);
  }

  /** Every planned pass, even one whose apply then fails (a name conflict elsewhere must not stall backoff or reports). */
  async planned(result: Omit<PassResult, 'applied'>): Promise<void> {
    this.scheduleWake(result);
    this.recheckLaggingDeaths(result);
    this.health = await this.computeHealth(result);
    for (const h of this.health) {
      const line = `${h.status} ${h.reason ?? ''} ${h.message}`;
      if (this.lastLogged.get(`${h.stack}/${h.service}`) === line) continue;
      this.lastLogged.set(`${h.stack}/${h.service}`, line);
      const fields = { stack: h.stack, service: h.service, status: h.status, reason: h.reason, exitCode: h.lastExitCode, logs: h.lastLogLines.length > 0 ? h.lastLogLines : undefined };
      if (h.status === 'Healthy') this.opts.logger.info(fields, `${h.service}: ${h.message}`);
      else this.opts.logger.warn(fields, `${h.service}: ${h.message}`);
    }
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
      if (c === undefined || c.state !== 'running' || tries >= 10) {
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
    }, 200);
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

  private countHeals(result: PassResult): void {
    const byName = new Map(result.observed.containers.map((c) => [c.name, c]));
    const now = this.opts.now();
    for (const op of result.plan.operations) {
      if (op.kind !== 'start-container' && op.kind !== 'create-container' && op.kind !== 'recreate-container') continue;
      const service = typeof op.service === 'string' ? op.service : op.service.name;
      const before = byName.get(op.name);
      const reason = op.kind === 'create-container'
        ? (before === undefined && /missing/.test(op.cause) ? 'missing' : undefined)
        : op.kind === 'start-container'
          ? (before?.lastRun !== undefined && before.lastRun.exitCode !== 0 ? 'crashed' : 'stopped')
          : op.cause.startsWith('drift') ? 'drift' : undefined;
      if (reason !== undefined) this.opts.metrics.replicaRestarted(op.stack, service, reason);
      const lost = this.lostAt.get(op.name);
      if (lost !== undefined) {
        this.opts.metrics.healed(Math.max(0, now - lost) / 1000);
        this.lostAt.delete(op.name);
      }
    }
  }

  private async computeHealth(result: Omit<PassResult, 'applied'>): Promise<ServiceHealth[]> {
    const out: ServiceHealth[] = [];
    for (const change of result.plan.services) {
      if (change.action === 'remove') continue;
      const replicas = result.observed.containers.filter((c) => c.stack === change.stack && c.service === change.service);
      const running = replicas.filter((c) => c.state === 'running');
      const ready = running.filter((c) => c.health !== 'unhealthy' && c.health !== 'starting' && this.opts.notReady?.(c) !== true);
      const held = result.plan.heldBack.filter((h) => h.stack === change.stack && h.service === change.service);
      const desired = change.replicas.to;
      const base = { stack: change.stack, service: change.service, desired, running: running.length, ready: ready.length };
      const crashing = held[0];
      const recovering = running.map((c) => ({ c, b: crashBackoff(this.runs.get(c.id) ?? [], this.opts.now()) }))
        .find(({ b, c }) => b.crashes > 1 && this.opts.now() - (this.runs.get(c.id)?.at(-1)?.finishedAt ?? 0) < BACKOFF_RESET_MS);
      if (crashing !== undefined) {
        const container = replicas.find((c) => c.name === crashing.name);
        const lines = container === undefined ? [] : await this.logsOf(container);
        out.push({
          ...base, status: 'Degraded', reason: 'CrashLoop', lastExitCode: crashing.exitCode, lastLogLines: lines,
          message: `${crashing.name} is crash-looping (${crashing.crashes} crashes in a row, exit code ${crashing.exitCode ?? '?'}); next restart in ${Math.max(0, Math.ceil((crashing.until - this.opts.now()) / 1000))} s`,
        });
      } else if (recovering !== undefined) {
        // Restarted after a crash loop: still CrashLoop until it has run for the reset window, so the status does not flap.
        const last = this.runs.get(recovering.c.id)?.at(-1);
        out.push({
          ...base, status: 'Degraded', reason: 'CrashLoop', lastExitCode: last?.exitCode, lastLogLines: await this.logsOf(recovering.c),
          message: `${recovering.c.name} restarted after ${recovering.b.crashes} crashes in a row (exit code ${last?.exitCode ?? '?'})`,
        });
      } else if (running.length < desired) {
        out.push({ ...base, status: 'Degraded', reason: 'BelowDesired', lastExitCode: undefined, lastLogLines: [], message: `${running.length}/${desired} replicas running` });
      } else if (ready.length < desired) {
        out.push({ ...base, status: 'Degraded', reason: 'Unready', lastExitCode: undefined, lastLogLines: [], message: `${ready.length}/${desired} replicas ready` });
      } else {
        out.push({ ...base, status: 'Healthy', reason: undefined, lastExitCode: undefined, lastLogLines: [], message: `${ready.length}/${desired} replicas ready` });
      }
    }
    return out;
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
