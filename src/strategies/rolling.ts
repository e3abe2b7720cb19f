// The rolling update of one service as a step machine (Swarm's
// update_config semantics, gitops-engine's stepped sync): the driver in
// apply/ asks for the next step, performs it, and hands back what happened.
// Pure: no I/O, no clock. The state is small and rebuilt from what runs
// after a restart (the planner turns the slots still on another spec into a
// fresh rollout), so nothing here must survive the process.

import type { RolloutEnd } from '../errors.js';
import type { ServiceSpec, UpdateConfig } from '../manifests/model.js';

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
}

/** Does `held` apply to the service as Git has it now? A new commit, or a new spec, ends the hold. */
export function holds(held: HeldRollout, revision: string, specHash: string): boolean {
  return held.revision === revision && held.specHash === specHash;
}

/** `web/api: the rolling update to abc1234 failed (…); rolled back, not retried until a new commit or \`capstan apply --force\`` */
export function describeHeld(held: HeldRollout): string {
  const what = held.end === 'paused' ? 'paused' : held.end === 'rolled-back' ? 'rolled back' : 'rolling back failed';
  return `${held.stack}/${held.service}: the rolling update to ${held.revision.slice(0, 7)} failed (${held.reason}); ${what}, not retried until a new commit or \`capstan apply --force\``;
}
