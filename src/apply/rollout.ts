// Drives the rolling update of one service (the recreate operations the
// planner made for it) through the step machine of strategies/rolling.ts:
// batch by batch, each new replica ready before it takes traffic and before
// the old one is drained and stopped, each batch watched for `monitor`,
// failures handled by failure_action. Every step leaves the engine in a
// state the planner understands (a slot with its twin, a twin without its
// old replica), so a crash anywhere is resumed by the next pass.

import type { Backend, DeployContext } from '../backends/backend.js';
import { twinName } from '../desired/labels.js';
import type { DesiredService } from '../desired/model.js';
import { RolloutFailedError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { UpdateConfig } from '../manifests/model.js';
import type { Operation } from '../plan/operations.js';
import { afterBatch, effectiveOrder, nextStep, startRollout, type RolloutConfigs, type SlotOutcome } from '../strategies/rolling.js';
import type { HeldRolloutStore } from './held-rollouts.js';
import type { ReadinessGate } from './readiness.js';
import type { Traffic } from './traffic.js';

export type RecreateOp = Extract<Operation, { kind: 'recreate-container' }>;

/** What rolling updates need besides the engine: the router, readiness, the hold record, a clock. */
export interface RolloutSupport {
  traffic: Traffic;
  readiness: ReadinessGate;
  held: HeldRolloutStore;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** Asked between batches with the revision being rolled out: a reason to stop at this safe step (a newer commit, a shutdown), or undefined. */
  interrupted?: (revision: string) => Promise<string | undefined>;
}

export interface RolloutDeps extends RolloutSupport {
  backend: Backend;
  ctx: DeployContext;
  logger: Logger;
}

export interface RolloutResult {
  /** Slots that now run the target spec. */
  updated: number;
  /** Set when the rollout failed; what runs is described by its `end`. */
  failure: RolloutFailedError | undefined;
  /** Set when the rollout stopped at a safe step; the next pass carries on. */
  interrupted: string | undefined;
}

interface SlotState {
  op: RecreateOp;
  /** The container holding the replica's name now. */
  current: string | undefined;
  /** A start-first twin that failed readiness, kept until the failure action says what becomes of it. */
  failedTwin: string | undefined;
}

/** Docker's own stop timeout when a service sets no stop_grace_period: how long a replica being retired may finish its work. */
export const DEFAULT_GRACE_MS = 10_000;

export async function rollService(ops: readonly RecreateOp[], deps: RolloutDeps): Promise<RolloutResult> {
  const first = ops[0];
  if (first === undefined) return { updated: 0, failure: undefined, interrupted: undefined };
  const target = first.service;
  const resumedBack = first.update.direction === 'back';
  const configs: RolloutConfigs = { update: target.spec.update, rollback: target.spec.rollback };
  const slots = new Map<number, SlotState>(ops.map((op) => [op.number, { op, current: op.containerId, failedTwin: undefined }]));
  const log = deps.logger.child({ stack: target.stack, service: target.name });
  const label = `${target.stack}/${target.name}`;

  let state = startRollout([...slots.keys()], first.update.direction);
  let updated = 0;
  const progressKey = `${resumedBack ? 'rollback' : 'rollout'} ${label}`;
  const progress = (text: string): void => deps.ctx.progress?.update(progressKey, text, updated / slots.size);
  progress(`0/${slots.size} replicas updated`);
  log.info({ replicas: slots.size, order: configs.update.order, parallelism: configs.update.parallelism, direction: state.direction }, `${resumedBack ? 'rolling back' : 'rolling update of'} ${label}: ${slots.size} replica${slots.size === 1 ? '' : 's'}`);

  for (;;) {
    const step = nextStep(state, configs);
    if (step.kind === 'done') break;
    if (step.delayMs > 0) await deps.sleep(step.delayMs);
    if (state.batches > 0) {
      const why = await deps.interrupted?.(deps.ctx.revision);
      if (why !== undefined) {
        log.info({ reason: why }, `rolling update of ${label} stops at a safe step: ${why}`);
        deps.ctx.progress?.done(progressKey, `stopped at a safe step: ${why}`, false);
        return { updated, failure: undefined, interrupted: why };
      }
    }
    const goingBack = step.direction === 'back' && !resumedBack;
    const moves = step.slots.map((n) => {
      const slot = slots.get(n);
      return { n, slot, to: slot === undefined ? undefined : goingBack ? previousService(slot.op) : target };
    });
    const outcomes = await Promise.all(moves.map(({ n, slot, to }) =>
      slot === undefined ? { number: n, ok: false, moved: false, reason: `slot ${n} is not part of this rollout` } : moveSlot(slot, to, !goingBack, step.config, deps)));
    const watched = moves.flatMap((m, i) => {
      const current = m.slot?.current;
      return outcomes[i]?.ok === true && current !== undefined && m.slot !== undefined && m.to !== undefined ? [{ i, containerId: current, name: m.slot.op.name, service: m.to }] : [];
    });
    const monitorFailures = await deps.readiness.monitor(watched, deps.now() + step.config.monitorMs);
    const final: SlotOutcome[] = outcomes.map((o, i) => {
      const w = watched.findIndex((x) => x.i === i);
      const failed = w < 0 ? undefined : monitorFailures[w];
      return failed === undefined ? o : { ...o, ok: false, reason: failed };
    });
    for (const o of final) {
      if (o.ok) log.info({ replica: slots.get(o.number)?.op.name }, `${slots.get(o.number)?.op.name ?? o.number} ${step.direction === 'back' ? 'rolled back' : 'updated'}`);
      else log.warn({ replica: slots.get(o.number)?.op.name, reason: o.reason }, `${slots.get(o.number)?.op.name ?? o.number} failed: ${o.reason ?? 'unknown'}`);
    }
    if (step.direction === 'forward') updated += final.filter((o) => o.ok).length;
    progress(step.direction === 'forward' ? `${updated}/${slots.size} replicas updated` : `rolling back (${state.reason ?? 'a replica failed'})`);
    const before = state;
    state = afterBatch(state, final, configs);
    const turnedBack = before.direction === 'forward' && state.direction === 'back';
    if (turnedBack || (state.end === 'paused' && before.end === undefined)) {
      // Decided before the way back starts: a crash from here on resumes the rollback, never the failed update.
      await deps.held.hold({
        stack: target.stack, service: target.name, revision: deps.ctx.revision, specHash: target.specHash,
        end: state.end === 'paused' ? 'paused' : 'rolled-back', reason: state.reason ?? 'a replica failed',
        restored: restoredSpec(ops), at: deps.now(),
      });
      log.warn({ reason: state.reason, action: configs.update.failureAction }, `rolling update of ${label} failed (${state.reason ?? '?'}): ${state.end === 'paused' ? 'pausing' : 'rolling back'}`);
    }
    await settleFailedTwins(slots, state.direction === 'forward' && state.end !== 'paused', deps);
  }

  deps.ctx.progress?.done(progressKey, state.end === 'converged' ? `${updated}/${slots.size} replicas updated` : `${state.end ?? 'stopped'}: ${state.reason ?? 'a replica failed'}`, state.end === 'converged');
  if (state.end === 'converged') {
    await deps.held.release(target.stack, target.name);
    return { updated, failure: undefined, interrupted: undefined };
  }
  // A resumed rollback that fails keeps its hold as it was: the next pass tries the way back again.
  const end = state.end === 'paused' ? 'paused' : state.end === 'rolled-back' ? 'rolled-back' : 'rollback-failed';
  if (resumedBack && end === 'rolled-back') return { updated, failure: undefined, interrupted: undefined };
  if (end === 'rollback-failed' && !resumedBack) {
    await deps.held.hold({
      stack: target.stack, service: target.name, revision: deps.ctx.revision, specHash: target.specHash,
      end, reason: state.reason ?? 'a replica failed', restored: undefined, at: deps.now(),
    });
  }
  return { updated, failure: new RolloutFailedError(target.stack, target.name, deps.ctx.revision, end, state.reason ?? 'a replica failed'), interrupted: undefined };
}

/**
 * One slot toward `to`. Start-first: the twin starts beside the old replica,
 * takes traffic once ready, then the old one is drained, stopped and the
 * twin takes its name. Stop-first: drain and stop the old one, then start
 * the new one in its place.
 */
async function moveSlot(slot: SlotState, to: DesiredService | undefined, reuseTwin: boolean, config: UpdateConfig, deps: RolloutDeps): Promise<SlotOutcome> {
  const n = slot.op.number;
  if (to === undefined) return { number: n, ok: false, moved: false, reason: `${slot.op.name} has no previous spec to return to (its io.capstan.spec label is missing)` };
  const grace = to.spec.stopGracePeriodMs ?? DEFAULT_GRACE_MS;
  const deadline = (): number => deps.now() + to.spec.capstan.progressDeadlineMs;
  const order = effectiveOrder(config, deps.ctx.publishPorts && to.spec.ports.some((p) => p.published !== undefined));

  if (order === 'start-first') {
    const name = twinName(to, n);
    // A twin the planner found (an interrupted pass made it) already runs the target spec: wait on it instead of making another.
    let twin = reuseTwin && slot.current === slot.op.containerId ? slot.op.update.twinId : undefined;
    try {
      // The interrupted pass may have made it without starting it.
      if (twin !== undefined) await deps.backend.startContainer(twin);
      else twin = await deps.backend.createContainer(to, n, deps.ctx, name);
    } catch (err) {
      return { number: n, ok: false, moved: false, reason: `cannot start ${name}: ${messageOf(err)}` };
    }
    const verdict = await deps.readiness.untilReady(twin, name, to, deadline());
    if (!verdict.ok) {
      slot.failedTwin = twin;
      return { number: n, ok: false, moved: false, reason: verdict.reason };
    }
    await deps.traffic.admit({ containerId: twin, name, stack: to.stack, service: to.name, ip: verdict.replica.ip, specHash: to.specHash });
    await retire(slot, grace, deps);
    await deps.backend.renameContainer(twin, slot.op.name);
    await deps.traffic.renamed(twin, slot.op.name);
    slot.current = twin;
    return { number: n, ok: true, moved: true };
  }

  try {
    // Built and read before the old replica goes: a failed build or an undecryptable secret leaves it serving.
    await deps.backend.prepare(to, deps.ctx);
  } catch (err) {
    return { number: n, ok: false, moved: false, reason: `cannot prepare ${slot.op.name}: ${messageOf(err)}` };
  }
  await retire(slot, grace, deps);
  let id: string;
  try {
    id = await deps.backend.createContainer(to, n, deps.ctx);
  } catch (err) {
    return { number: n, ok: false, moved: true, reason: `cannot start ${slot.op.name}: ${messageOf(err)}` };
  }
  slot.current = id;
  const verdict = await deps.readiness.untilReady(id, slot.op.name, to, deadline());
  if (!verdict.ok) return { number: n, ok: false, moved: true, reason: verdict.reason };
  await deps.traffic.admit({ containerId: id, name: slot.op.name, stack: to.stack, service: to.name, ip: verdict.replica.ip, specHash: to.specHash });
  return { number: n, ok: true, moved: true };
}

/** Out of rotation, in-flight work finished (bounded by the grace period), then stopped and removed. */
async function retire(slot: SlotState, graceMs: number, deps: RolloutDeps): Promise<void> {
  const id = slot.current;
  if (id === undefined) return;
  await deps.traffic.retire(id, graceMs);
  await deps.backend.removeContainer(id);
  slot.current = undefined;
}

/**
 * A twin that never became ready: with `continue` it replaces its slot
 * anyway (the update goes on, healing takes it from there); otherwise it is
 * removed and the old replica keeps serving, as it did all along.
 */
async function settleFailedTwins(slots: ReadonlyMap<number, SlotState>, keepGoing: boolean, deps: RolloutDeps): Promise<void> {
  for (const slot of slots.values()) {
    const twin = slot.failedTwin;
    if (twin === undefined) continue;
    slot.failedTwin = undefined;
    if (keepGoing) {
      await retire(slot, slot.op.service.spec.stopGracePeriodMs ?? DEFAULT_GRACE_MS, deps);
      await deps.backend.renameContainer(twin, slot.op.name);
      slot.current = twin;
    } else {
      await deps.backend.removeContainer(twin);
    }
  }
}

/** The slot's replica as it was before this rollout: what a rollback returns it to. */
function previousService(op: RecreateOp): DesiredService | undefined {
  const prev = op.update.previous;
  return prev === undefined ? undefined : { ...op.service, spec: prev.spec, specHash: prev.specHash };
}

/** What the held service is healed to: the previous spec of the first slot that has one. */
function restoredSpec(ops: readonly RecreateOp[]): { spec: DesiredService['spec']; specHash: string } | undefined {
  return ops.find((op) => op.update.previous !== undefined)?.update.previous;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
