// The rolling update of one service as a step machine (Swarm's
// update_config semantics, gitops-engine's stepped sync). Two layers, both
// pure: the batch machine (startRollout / nextStep / afterBatch) decides
// which slots move together and what a batch's failures mean; the step
// machine (beginRolling / stepRolling) walks one batch through its phases —
// start twins, await readiness, shift traffic, monitor, retire — one phase
// per lane pass. Its record is persisted by the driver after each step, and
// every phase leaves the engine in a state the planner understands, so a
// crash anywhere resumes from the record (or, without one, from the labels).
// A batch whose new replicas stopped together with the rest of the stack (the
// engine restarting, not the release failing) is interrupted instead of
// failed: it starts them again once the stop has settled and watches anew.

import type { RolloutEnd } from '../errors.js';
import type { ServiceSpec, UpdateConfig } from '../manifests/model.js';
import type { RecordBase, ReplicaView, RolloutAction, RolloutProgress, SlotView, SlotViews } from './step.js';

export type Direction = 'forward' | 'back';

export interface RolloutState {
  direction: Direction;
  /** Slots still to move in this direction, in order. */
  pending: readonly number[];
  /** Slots whose replica now runs the forward spec: the way back restores these. */
  onNewSpec: readonly number[];
  /** Failed replicas in this direction, against `total` for max_failure_ratio. */
  failures: number;
  total: number;
  /** Batches done in this direction: the delay comes between batches, not before the first. */
  batches: number;
  /** The first failure, in words, for status. */
  reason: string | undefined;
  end: 'converged' | 'rolled-back' | 'paused' | 'rollback-failed' | undefined;
}

export type RolloutStep =
  | { kind: 'batch'; direction: Direction; slots: readonly number[]; config: UpdateConfig; delayMs: number }
  | { kind: 'done'; end: NonNullable<RolloutState['end']>; reason: string | undefined };

/** What the driver saw of one slot of a batch. */
export interface SlotOutcome {
  number: number;
  ok: boolean;
  /** Whether the slot's replica now runs the spec of this direction (stop-first removed the old one first). */
  moved: boolean;
  reason?: string;
}

export interface RolloutConfigs {
  update: UpdateConfig;
  rollback: UpdateConfig;
}

/** A rollout over `slots` (ascending, as Swarm updates tasks by slot); `direction: 'back'` when the planner resumes a rollback. */
export function startRollout(slots: readonly number[], direction: Direction = 'forward'): RolloutState {
  const pending = [...slots].sort((a, b) => a - b);
  return { direction, pending, onNewSpec: [], failures: 0, total: pending.length, batches: 0, reason: undefined, end: pending.length === 0 ? 'converged' : undefined };
}

export function nextStep(state: RolloutState, configs: RolloutConfigs): RolloutStep {
  if (state.end !== undefined) return { kind: 'done', end: state.end, reason: state.reason };
  const config = state.direction === 'forward' ? configs.update : configs.rollback;
  // parallelism 0 means all at once, as in Swarm.
  const size = config.parallelism === 0 ? state.pending.length : config.parallelism;
  return { kind: 'batch', direction: state.direction, slots: state.pending.slice(0, size), config, delayMs: state.batches === 0 ? 0 : config.delayMs };
}

/**
 * Folds a batch's outcomes into the state and decides what follows. Going
 * forward, failures beyond max_failure_ratio trigger the failure action:
 * rollback turns around over every slot that runs the new spec, pause stops
 * here, continue carries on. Going back, any failure ends the rollout: there
 * is nothing left to fall back to.
 */
export function afterBatch(state: RolloutState, outcomes: readonly SlotOutcome[], configs: RolloutConfigs): RolloutState {
  const done = new Set(outcomes.map((o) => o.number));
  const pending = state.pending.filter((n) => !done.has(n));
  const failed = outcomes.filter((o) => !o.ok);
  const reason = state.reason ?? failed[0]?.reason;
  const moved = outcomes.filter((o) => o.moved).map((o) => o.number);
  const failures = state.failures + failed.length;
  const batches = state.batches + 1;

  if (state.direction === 'back') {
    if (failed.length > 0) return { ...state, pending, failures, batches, reason, end: 'rollback-failed' };
    return { ...state, pending, failures, batches, end: pending.length === 0 ? 'rolled-back' : undefined };
  }

  const onNewSpec = [...state.onNewSpec, ...moved];
  const tooMany = failed.length > 0 && failures / state.total > configs.update.maxFailureRatio;
  if (tooMany && configs.update.failureAction === 'rollback') {
    return { ...startRollout(onNewSpec, 'back'), reason, end: onNewSpec.length === 0 ? 'rolled-back' : undefined };
  }
  if (tooMany && configs.update.failureAction === 'pause') return { ...state, pending, onNewSpec, failures, batches, reason, end: 'paused' };
  return { ...state, pending, onNewSpec, failures, batches, reason, end: pending.length === 0 ? 'converged' : undefined };
}

/**
 * Start-first needs two replicas of a slot side by side; a container that
 * binds a fixed host port itself (no router) cannot have a twin, so such a
 * service updates stop-first, as Swarm does with host-mode ports.
 */
export function effectiveOrder(config: UpdateConfig, bindsHostPort: boolean): UpdateConfig['order'] {
  return bindsHostPort ? 'stop-first' : config.order;
}

/**
 * A rollout that failed and is not retried until a new commit arrives (or
 * `apply --force`): kept on disk by the driver, read by the planner, which
 * then holds the service at what it was restored to.
 */
export interface HeldRollout {
  stack: string;
  service: string;
  /** The revision and spec hash whose rollout failed. */
  revision: string;
  specHash: string;
  end: RolloutEnd;
  /** The first failure, in words ("web-api-1-next not ready within 60 s: HTTP 404"). */
  reason: string;
  /** What `rolled-back` restored; the planner heals the service to it while held. */
  restored: { spec: ServiceSpec; specHash: string } | undefined;
  /** ms since the epoch. */
  at: number;
  /** A canary or blue-green release that was aborted (a rolling update when absent). */
  strategy?: 'canary' | 'blue-green';
}

/** Does `held` apply to the service as Git has it now? A new commit, or a new spec, ends the hold. */
export function holds(held: HeldRollout, revision: string, specHash: string): boolean {
  return held.revision === revision && held.specHash === specHash;
}

/** `web/api: the rolling update to abc1234 failed (…); rolled back, not retried until a new commit or \`capstan apply --force\`` */
export function describeHeld(held: HeldRollout): string {
  const what = held.strategy === 'canary' ? 'aborted' : held.strategy === 'blue-green' ? 'the live set kept serving' : held.end === 'paused' ? 'paused' : held.end === 'rolled-back' ? 'rolled back' : 'rolling back failed';
  const kind = held.strategy === undefined ? 'rolling update' : `${held.strategy} release`;
  return `${held.stack}/${held.service}: the ${kind} to ${held.revision.slice(0, 7)} failed (${held.reason}); ${what}, not retried until a new commit or \`capstan apply --force\``;
}

/** How a slot's batch went: `moved` when the slot's old replica is gone (its spec is the target's now, or nothing). */
interface BatchSlot {
  number: number;
  outcome: { ok: boolean; moved: boolean; reason: string | undefined } | undefined;
  /** Start-first: the old replica was taken out of rotation (it still runs until retired). */
  drained: boolean;
  /** When its new replica was first seen stopped as by a stop signal with nothing else stopped yet: the verdict waits STOP_SETTLE_MS for the rest of the stack. */
  stoppedSince?: number | undefined;
}

/** The stack stopped around a batch (see health/stopped-together.ts): why, and since when. */
export interface Interruption {
  since: number;
  reason: string;
}

export type RollingPhase = 'awaiting' | 'monitoring' | 'retiring';

/** The persisted record of one rolling update (JSON-safe). */
export interface RollingRecord extends RecordBase {
  strategy: 'rolling';
  order: UpdateConfig['order'];
  configs: RolloutConfigs;
  progressDeadlineMs: number;
  state: RolloutState;
  batch: {
    phase: RollingPhase; slots: BatchSlot[]; deadline: number; until: number | undefined;
    /** Set while the batch waits for the stack's stop to settle; its replicas start again after RESUME_AFTER_MS. */
    interrupted?: Interruption | undefined;
    /** How often this batch was interrupted: past MAX_INTERRUPTIONS a stop fails it as a crash would. */
    interruptions?: number | undefined;
  } | undefined;
  /** The next batch starts no earlier (update_config.delay). */
  notBefore: number;
  startedAt: number;
  phaseSince: number;
}

/** How a rollout ended, for the driver: hold records, status, the pass outcome. */
export type RollingEnd =
  | { kind: 'converged' }
  /** Failures beyond max_failure_ratio going forward with failure_action rollback: the slots on the new spec go back in a rollout of their own. */
  | { kind: 'turned-back'; reason: string; nothingToRestore: boolean }
  | { kind: 'paused'; reason: string }
  /** `continue` went on past failures to the end. */
  | { kind: 'converged-with-failures'; reason: string }
  /** A rollback's own failure, or a resumed rollback that finished. */
  | { kind: 'rollback-failed'; reason: string }
  | { kind: 'rolled-back' };

export interface RollingStep {
  record: RollingRecord;
  actions: RolloutAction[];
  /** When to look again (ms); the lane also wakes on engine and probe events meanwhile. */
  wakeAt: number | undefined;
  end: RollingEnd | undefined;
}

/**
 * How often a replica that is still starting is looked at: soon at first,
 * then less often the longer it takes (up to AWAIT_POLL_MAX_MS); engine
 * events and probe verdicts wake the lane sooner anyway.
 */
export const AWAIT_POLL_MS = 250;
export const AWAIT_POLL_MAX_MS = 2000;

/**
 * A new replica that stopped as by a stop signal (exit 0, 130, 137, 143) is
 * judged this long after it was first seen so: long enough for the rest of a
 * stack the engine is stopping to be seen stopped too (they get the signal
 * at once), short enough that a release that exits cleanly by itself still
 * fails within moments.
 */
export const STOP_SETTLE_MS = 2000;
/**
 * An interrupted batch starts its replicas again this long after the stop
 * was seen: a dockerd shutting down answers for as long as its containers
 * take to stop (up to their stop timeout, 10 s by default), and a replica
 * started meanwhile would only be stopped again. An engine that is gone
 * longer holds every pass anyway; the first one after it is back resumes.
 */
export const RESUME_AFTER_MS = 15_000;
/** Interruptions a batch survives; past these, a stop with the stack fails it as any stop would. */
export const MAX_INTERRUPTIONS = 3;

export function beginRolling(opts: {
  id: string; stack: string; service: string; revision: string; targetHash: string; targetDigest?: string | undefined; slots: readonly number[];
  direction: Direction; order: UpdateConfig['order']; configs: RolloutConfigs; progressDeadlineMs: number; now: number;
  previous: RollingRecord['previous'];
}): RollingRecord {
  return {
    strategy: 'rolling', id: opts.id, stack: opts.stack, service: opts.service, revision: opts.revision, targetHash: opts.targetHash,
    ...(opts.targetDigest === undefined ? {} : { targetDigest: opts.targetDigest }),
    order: opts.order, configs: opts.configs, progressDeadlineMs: opts.progressDeadlineMs, previous: opts.previous,
    state: startRollout(opts.slots, opts.direction), batch: undefined, notBefore: opts.now, startedAt: opts.now, phaseSince: opts.now,
  };
}

/** One step: what to do now, given what runs in each slot. */
export function stepRolling(record: RollingRecord, view: SlotViews, now: number): RollingStep {
  const batch = record.batch;
  if (batch === undefined) return startBatch(record, view, now);
  if (batch.interrupted !== undefined) return resume(record, batch, batch.interrupted, view, now);
  if (batch.phase !== 'retiring') {
    const stop = stackStop(record, batch, view);
    if (stop !== undefined) return interrupt(record, batch, stop, now);
  }
  if (batch.phase === 'awaiting') return awaitReady(record, batch, view, now);
  if (batch.phase === 'monitoring') return monitor(record, batch, view, now);
  return retire(record, batch, view, now);
}

/** The driver could not do a slot's action: the slot failed (`moved` when its old replica was already removed). */
export function failSlot(record: RollingRecord, slot: number, reason: string, moved: boolean): RollingRecord {
  if (record.batch === undefined) return record;
  const slots = record.batch.slots.map((s) => (s.number === slot && s.outcome?.ok !== false ? { ...s, outcome: { ok: false, moved, reason } } : s));
  return { ...record, batch: { ...record.batch, slots } };
}

export function rollingProgress(record: RollingRecord, wakeAt: number | undefined): RolloutProgress {
  const config = record.state.direction === 'forward' ? record.configs.update : record.configs.rollback;
  const size = config.parallelism === 0 ? Math.max(1, record.state.total) : config.parallelism;
  const batches = Math.max(1, Math.ceil(record.state.total / size));
  const phase = record.batch?.interrupted !== undefined ? 'interrupted' : record.batch?.phase ?? (record.state.batches === 0 ? 'starting' : 'delay');
  return {
    id: record.id, stack: record.stack, service: record.service, strategy: 'rolling', revision: record.revision,
    direction: record.state.direction, batch: Math.min(batches, record.state.batches + 1), batches, phase,
    since: record.phaseSince, nextStepAt: wakeAt,
  };
}

function startBatch(record: RollingRecord, view: SlotViews, now: number): RollingStep {
  if (now < record.notBefore) return { record, actions: [], wakeAt: record.notBefore, end: undefined };
  const step = nextStep(record.state, record.configs);
  if (step.kind === 'done') return { record, actions: [], wakeAt: undefined, end: endOf(record, record.state) };
  const actions: RolloutAction[] = [];
  const slots: BatchSlot[] = step.slots.map((n) => {
    const v = view.get(n);
    // Already on the target (a heal made it so, or a crash after the promotion): nothing to move.
    if (v?.replica?.onTarget === true && v.twin === undefined) return { number: n, outcome: { ok: true, moved: true, reason: undefined }, drained: false };
    if (record.order === 'start-first') {
      const twin = v?.twin;
      if (twin !== undefined && twin.onTarget) {
        // An interrupted pass made it: wait on it instead of making another.
        if (twin.created) actions.push({ kind: 'start', slot: n, id: twin.id });
      } else {
        if (twin !== undefined) actions.push({ kind: 'drain', slot: n, id: twin.id }, { kind: 'remove', slot: n, id: twin.id });
        actions.push({ kind: 'create', slot: n, as: 'twin' });
      }
    } else {
      actions.push({ kind: 'prepare', slot: n });
      const old = v?.replica;
      if (old !== undefined && !old.onTarget) actions.push({ kind: 'drain', slot: n, id: old.id }, { kind: 'remove', slot: n, id: old.id });
      if (old === undefined || !old.onTarget) actions.push({ kind: 'create', slot: n, as: 'replica' });
    }
    return { number: n, outcome: undefined, drained: false };
  });
  const next: RollingRecord = {
    ...record,
    batch: { phase: 'awaiting', slots, deadline: now + record.progressDeadlineMs, until: undefined },
    phaseSince: now,
  };
  return { record: next, actions, wakeAt: now + AWAIT_POLL_MS, end: undefined };
}

/** The replica a slot moves to: the twin (start-first) or the slot's own (stop-first, once on the target). */
function incoming(record: RollingRecord, v: SlotView | undefined) {
  if (record.order === 'start-first') return v?.twin?.onTarget === true ? v.twin : v?.replica?.onTarget === true ? v.replica : undefined;
  return v?.replica?.onTarget === true ? v.replica : undefined;
}

function awaitReady(record: RollingRecord, batch: NonNullable<RollingRecord['batch']>, view: SlotViews, now: number): RollingStep {
  const stopFirst = record.order === 'stop-first';
  let waiting = false;
  const slots = batch.slots.map((s): BatchSlot => {
    if (s.outcome !== undefined) return s;
    const v = view.get(s.number);
    const fresh = incoming(record, v);
    if (fresh === undefined) return { ...s, outcome: { ok: false, moved: stopFirst || v?.replica === undefined, reason: `the new replica of slot ${s.number} is gone` } };
    const settling = settle(s, fresh, now);
    if (settling !== undefined) {
      waiting = true;
      return settling;
    }
    const r = fresh.readiness;
    if (r.kind === 'ready') return s;
    if (r.kind === 'failed') return { ...s, outcome: { ok: false, moved: stopFirst, reason: r.reason } };
    if (now >= batch.deadline) {
      return { ...s, outcome: { ok: false, moved: stopFirst, reason: `${r.why} after ${Math.round(record.progressDeadlineMs / 1000)} s (progress deadline)` } };
    }
    waiting = true;
    return s;
  });
  if (waiting) {
    const poll = Math.min(AWAIT_POLL_MAX_MS, Math.max(AWAIT_POLL_MS, (now - record.phaseSince) / 4));
    return { record: { ...record, batch: { ...batch, slots } }, actions: [], wakeAt: Math.min(batch.deadline, now + poll), end: undefined };
  }
  // Shift traffic: every ready newcomer in, every replica it replaces out (start-first keeps it running until retired).
  const actions: RolloutAction[] = [];
  const shifted = slots.map((s): BatchSlot => {
    if (s.outcome !== undefined) return s;
    const v = view.get(s.number);
    const fresh = incoming(record, v);
    if (fresh !== undefined) actions.push({ kind: 'admit', slot: s.number, id: fresh.id });
    const old = v?.replica;
    if (!stopFirst && old !== undefined && !old.onTarget) {
      actions.push({ kind: 'drain', slot: s.number, id: old.id });
      return { ...s, drained: true };
    }
    return s;
  });
  const monitorMs = currentConfig(record).monitorMs;
  const next: RollingRecord = { ...record, batch: { ...batch, phase: 'monitoring', slots: shifted, until: now + monitorMs }, phaseSince: now };
  return { record: next, actions, wakeAt: now + monitorMs, end: undefined };
}

function monitor(record: RollingRecord, batch: NonNullable<RollingRecord['batch']>, view: SlotViews, now: number): RollingStep {
  const stopFirst = record.order === 'stop-first';
  let settlesAt: number | undefined;
  const slots = batch.slots.map((s): BatchSlot => {
    if (s.outcome !== undefined) return s;
    const fresh = incoming(record, view.get(s.number));
    // A missed probe only takes a replica out of rotation; failing it for good (or dying) fails the slot.
    if (fresh === undefined) return { ...s, outcome: { ok: false, moved: stopFirst, reason: `the new replica of slot ${s.number} is gone within the monitor window` } };
    const settling = settle(s, fresh, now);
    if (settling !== undefined) {
      settlesAt = Math.min(settlesAt ?? Infinity, (settling.stoppedSince ?? now) + STOP_SETTLE_MS);
      return settling;
    }
    if (fresh.readiness.kind === 'failed') return { ...s, outcome: { ok: false, moved: stopFirst, reason: `${fresh.readiness.reason} within the monitor window` } };
    return s;
  });
  const until = batch.until ?? now;
  const watching = slots.some((s) => s.outcome === undefined);
  const next: RollingRecord = { ...record, batch: { ...batch, slots } };
  if (settlesAt !== undefined) return { record: next, actions: [], wakeAt: settlesAt, end: undefined };
  if (watching && now < until) return { record: next, actions: [], wakeAt: until, end: undefined };
  return retire({ ...next, batch: { ...batch, slots, phase: 'retiring' }, phaseSince: now }, { ...batch, slots, phase: 'retiring' }, view, now);
}

/**
 * A new replica that stopped as by a stop signal, with nothing else of the
 * stack seen stopped yet, is given STOP_SETTLE_MS before it is judged: the
 * slot with the time it was first seen so, or undefined once it is judged
 * (or did not stop that way).
 */
function settle(s: BatchSlot, fresh: ReplicaView, now: number): BatchSlot | undefined {
  if (fresh.stop?.looksStopped !== true) return undefined;
  const since = s.stoppedSince ?? now;
  return now < since + STOP_SETTLE_MS ? { ...s, stoppedSince: since } : undefined;
}

/** Why the batch's new replicas look stopped by the engine rather than failed: one of them stopped together with replicas that predate the rollout. */
function stackStop(record: RollingRecord, batch: NonNullable<RollingRecord['batch']>, view: SlotViews): string | undefined {
  if ((batch.interruptions ?? 0) >= MAX_INTERRUPTIONS) return undefined;
  for (const s of batch.slots) {
    if (s.outcome !== undefined) continue;
    const together = incoming(record, view.get(s.number))?.stop?.together ?? [];
    if (together.length > 0) return `the new replica of slot ${s.number} stopped together with ${together.join(', ')} (the engine stopping or restarting, not the release failing)`;
  }
  return undefined;
}

function interrupt(record: RollingRecord, batch: NonNullable<RollingRecord['batch']>, reason: string, now: number): RollingStep {
  const interrupted: Interruption = { since: now, reason };
  const next: RollingRecord = { ...record, batch: { ...batch, interrupted, interruptions: (batch.interruptions ?? 0) + 1 }, phaseSince: now };
  return { record: next, actions: [], wakeAt: now + RESUME_AFTER_MS, end: undefined };
}

/** Once the stop settled: the batch's stopped replicas start again, and the batch awaits them anew (a fresh progress deadline, then a fresh monitor window). */
function resume(record: RollingRecord, batch: NonNullable<RollingRecord['batch']>, interrupted: Interruption, view: SlotViews, now: number): RollingStep {
  const at = interrupted.since + RESUME_AFTER_MS;
  if (now < at) return { record, actions: [], wakeAt: at, end: undefined };
  const actions: RolloutAction[] = [];
  const slots = batch.slots.map((s): BatchSlot => {
    if (s.outcome !== undefined) return s;
    const fresh = incoming(record, view.get(s.number));
    if (fresh?.stop !== undefined) actions.push({ kind: 'start', slot: s.number, id: fresh.id });
    return { number: s.number, outcome: s.outcome, drained: s.drained };
  });
  const next: RollingRecord = {
    ...record,
    batch: { ...batch, phase: 'awaiting', slots, deadline: now + record.progressDeadlineMs, until: undefined, interrupted: undefined },
    phaseSince: now,
  };
  return { record: next, actions, wakeAt: now + AWAIT_POLL_MS, end: undefined };
}

function retire(record: RollingRecord, batch: NonNullable<RollingRecord['batch']>, view: SlotViews, now: number): RollingStep {
  const keepGoing = record.state.direction === 'forward' && currentConfig(record).failureAction === 'continue';
  const actions: RolloutAction[] = [];
  const outcomes: SlotOutcome[] = batch.slots.map((s) => {
    const outcome = s.outcome ?? { ok: true, moved: true, reason: undefined };
    const v = view.get(s.number);
    if (record.order === 'stop-first') return { number: s.number, ok: outcome.ok, moved: outcome.moved, reason: outcome.reason };
    const old = v?.replica !== undefined && !v.replica.onTarget ? v.replica : undefined;
    const twin = v?.twin?.onTarget === true ? v.twin : undefined;
    if (outcome.ok || keepGoing) {
      // With `continue` a twin that failed replaces its slot anyway; healing takes it from there.
      if (old !== undefined) {
        if (!s.drained) actions.push({ kind: 'drain', slot: s.number, id: old.id });
        actions.push({ kind: 'remove', slot: s.number, id: old.id });
      }
      if (twin !== undefined) actions.push({ kind: 'promote', slot: s.number, id: twin.id });
      return { number: s.number, ok: outcome.ok, moved: true, reason: outcome.reason };
    }
    // The old replica never stopped serving (or serves again): the twin goes.
    if (old !== undefined && s.drained) actions.push({ kind: 'admit', slot: s.number, id: old.id });
    if (twin !== undefined) actions.push({ kind: 'drain', slot: s.number, id: twin.id }, { kind: 'remove', slot: s.number, id: twin.id });
    return { number: s.number, ok: false, moved: old === undefined, reason: outcome.reason };
  });
  const state = afterBatch(record.state, outcomes, record.configs);
  const next: RollingRecord = { ...record, state, batch: undefined, notBefore: now + currentConfig({ ...record, state }).delayMs, phaseSince: now };
  const turnedBack = record.state.direction === 'forward' && state.direction === 'back';
  const end: RollingEnd | undefined = turnedBack
    ? { kind: 'turned-back', reason: state.reason ?? 'a replica failed', nothingToRestore: state.end === 'rolled-back' }
    : state.end === undefined ? undefined : endOf(record, state);
  return { record: next, actions, wakeAt: end === undefined ? Math.max(now, next.notBefore) : undefined, end };
}

function currentConfig(record: Pick<RollingRecord, 'state' | 'configs'>): UpdateConfig {
  return record.state.direction === 'forward' ? record.configs.update : record.configs.rollback;
}

function endOf(record: RollingRecord, state: RolloutState): RollingEnd {
  const reason = state.reason ?? 'a replica failed';
  switch (state.end) {
    case 'paused': return { kind: 'paused', reason };
    case 'rollback-failed': return { kind: 'rollback-failed', reason };
    case 'rolled-back': return { kind: 'rolled-back' };
    default:
      if (record.state.direction === 'back' || state.direction === 'back') return { kind: 'rolled-back' };
      return state.failures > 0 ? { kind: 'converged-with-failures', reason } : { kind: 'converged' };
  }
}
