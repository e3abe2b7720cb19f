// Drives one service's rollout by one step per lane pass: shows the step
// machine (strategies/rolling.ts) what runs in each slot, performs the engine
// and traffic calls it answers with, persists the record it hands back, and
// turns how it ended into hold records and a typed result. A newer target
// than the record's supersedes it here, at a step boundary: every phase
// leaves the engine in a state the planner understands, so the new plan
// takes over from whatever the old rollout left (a twin of the old target is
// a leftover it removes).

import type { Backend, DeployContext } from '../backends/backend.js';
import { replicaName, twinName } from '../desired/labels.js';
import type { DesiredService } from '../desired/model.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import { RolloutFailedError } from '../errors.js';
import { replicaReadiness, type ProbeVerdict } from '../health/readiness.js';
import type { ProbeTracker } from '../health/prober.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer } from '../observed/model.js';
import type { Operation } from '../plan/operations.js';
import { beginRolling, effectiveOrder, failSlot, rollingProgress, stepRolling, type RollingEnd, type RollingRecord } from '../strategies/rolling.js';
import type { RolloutAction, RolloutProgress, SlotView } from '../strategies/step.js';
import type { HeldRolloutStore } from './held-rollouts.js';
import type { RolloutStore } from './rollout-store.js';
import type { Traffic } from './traffic.js';

export type RecreateOp = Extract<Operation, { kind: 'recreate-container' }>;

/** What rollouts need besides the engine: the router, the prober, the hold and progress records, a clock. */
export interface RolloutSupport {
  traffic: Traffic;
  probes: ProbeTracker;
  held: HeldRolloutStore;
  store: RolloutStore;
  now: () => number;
  /** Told before a container is removed on purpose: its death is a deploy, not something to heal. */
  removing?: (containerId: string) => void;
}

export interface RolloutDeps extends RolloutSupport {
  backend: Backend;
  ctx: DeployContext;
  logger: Logger;
}

/** Docker's own stop timeout when a service sets no stop_grace_period: how long a replica being retired may finish its work. */
export const DEFAULT_GRACE_MS = 10_000;

export interface RolloutInput {
  /** This pass's recreate operations of the service (empty once every slot runs the target). */
  ops: readonly RecreateOp[];
  /** What the service should run now (Git's spec, or what a held rollout restores); undefined when it left Git. */
  target: DesiredService | undefined;
  record: RollingRecord | undefined;
  /** The stack's containers in this pass's snapshot. */
  observed: readonly ObservedContainer[];
}

export interface RolloutStepResult {
  /** The record to keep (undefined once the rollout ended or there is none). */
  record: RollingRecord | undefined;
  /** The record a newer target replaced at this step. */
  superseded: RollingRecord | undefined;
  wakeAt: number | undefined;
  /** `progressing`: more steps follow; `ended`: finished this pass (see `failure`). */
  state: 'progressing' | 'ended' | 'none';
  failure: RolloutFailedError | undefined;
  /** Slots that took the target this pass. */
  moved: number;
  progress: RolloutProgress | undefined;
}

export async function stepServiceRollout(input: RolloutInput, deps: RolloutDeps): Promise<RolloutStepResult> {
  let record = input.record;
  let superseded: RollingRecord | undefined;
  const target = input.target;
  const targetHash = input.ops[0]?.service.specHash ?? target?.specHash;
  if (record !== undefined && (target === undefined || record.targetHash !== targetHash)) {
    superseded = record;
    record = undefined;
    deps.logger.info({ stack: superseded.stack, service: superseded.service, rollout: superseded.id }, `rollout of ${superseded.stack}/${superseded.service} to ${superseded.revision.slice(0, 7)} superseded by a newer target; the new plan takes over at this step`);
  }
  const first = input.ops[0];
  if (record === undefined && first !== undefined) record = begin(input.ops, first.service, deps);
  if (record === undefined) return { record: undefined, superseded, wakeAt: undefined, state: 'none', failure: undefined, moved: 0, progress: undefined };
  const service = first?.service ?? target;
  if (service === undefined) return { record: undefined, superseded, wakeAt: undefined, state: 'none', failure: undefined, moved: 0, progress: undefined };

  const now = deps.now();
  const step = stepRolling(record, slotViews(record, service, input.observed, deps.probes), now);
  let next = step.record;
  const before = new Set(next.state.onNewSpec);
  const results = await runActions(step.actions, service, input.observed, deps);
  for (const f of results.failed) next = failSlot(next, f.slot, f.reason, f.moved);
  const moved = next.state.onNewSpec.filter((n) => !before.has(n)).length;
  const log = deps.logger.child({ stack: record.stack, service: record.service, rollout: record.id });
  if (record.batch?.phase !== next.batch?.phase || record.state.batches !== next.state.batches) {
    const p = rollingProgress(next, step.wakeAt);
    log.info({ phase: p.phase, batch: p.batch, batches: p.batches }, `${record.stack}/${record.service}: batch ${p.batch}/${p.batches} ${p.phase}`);
  }
  if (step.end === undefined) {
    return { record: next, superseded, wakeAt: step.wakeAt, state: 'progressing', failure: undefined, moved, progress: rollingProgress(next, step.wakeAt) };
  }
  const failure = await ended(next, step.end, deps, log);
  return { record: undefined, superseded, wakeAt: step.end.kind === 'turned-back' ? now : undefined, state: 'ended', failure, moved, progress: undefined };
}

function begin(ops: readonly RecreateOp[], service: DesiredService, deps: RolloutDeps): RollingRecord {
  const first = ops[0] as RecreateOp;
  const now = deps.now();
  const bindsHostPort = deps.ctx.publishPorts && service.spec.ports.some((p) => p.published !== undefined);
  const record = beginRolling({
    id: `${service.stack}/${service.name}@${service.specHash.slice(0, 12)}.${now.toString(36)}`,
    stack: service.stack, service: service.name, revision: deps.ctx.revision, targetHash: service.specHash,
    slots: ops.map((o) => o.number), direction: first.update.direction,
    order: effectiveOrder(service.spec.update, bindsHostPort), configs: { update: service.spec.update, rollback: service.spec.rollback },
    progressDeadlineMs: service.spec.capstan.progressDeadlineMs, now,
    previous: ops.find((op) => op.update.previous !== undefined)?.update.previous,
  });
  deps.logger.info(
    { stack: service.stack, service: service.name, rollout: record.id, replicas: ops.length, order: record.order, parallelism: record.configs.update.parallelism, direction: first.update.direction },
    `${first.update.direction === 'back' ? 'rolling back' : 'rolling update of'} ${service.stack}/${service.name}: ${ops.length} replica${ops.length === 1 ? '' : 's'}`,
  );
  return record;
}

/** What runs in each slot the rollout moves, from the pass's snapshot and the prober. */
function slotViews(record: RollingRecord, service: DesiredService, observed: readonly ObservedContainer[], probes: ProbeTracker): Map<number, SlotView> {
  const slots = new Set([...record.state.pending, ...(record.batch?.slots.map((s) => s.number) ?? [])]);
  const byName = new Map(observed.filter((c) => c.stack === service.stack && c.service === service.name).map((c) => [c.name, c]));
  const view = (c: ObservedContainer | undefined) => {
    if (c === undefined) return undefined;
    const onTarget = c.specHash === record.targetHash;
    const probe = onTarget ? service.spec.capstan.probe : decodeSpecLabel(c.labels)?.capstan.probe;
    if (probe !== undefined && onTarget && c.state === 'running') probes.track({ containerId: c.id, name: c.name, stack: c.stack, service: c.service, ip: c.ip, probe });
    const verdict: ProbeVerdict | undefined = probe === undefined ? undefined : { check: probe.check, health: probes.healthOf(c.id) };
    return { id: c.id, onTarget, created: c.state === 'created', readiness: replicaReadiness(c, verdict) };
  };
  return new Map([...slots].map((n) => [n, { number: n, replica: view(byName.get(replicaName(service, n))), twin: view(byName.get(twinName(service, n))) }]));
}

interface ActionFailure {
  slot: number;
  reason: string;
  moved: boolean;
}

/** A slot's actions in order, stopping at its first failure; slots side by side. */
async function runActions(actions: readonly RolloutAction[], service: DesiredService, observed: readonly ObservedContainer[], deps: RolloutDeps): Promise<{ failed: ActionFailure[] }> {
  const bySlot = new Map<number, RolloutAction[]>();
  for (const a of actions) bySlot.set(a.slot, [...(bySlot.get(a.slot) ?? []), a]);
  const failed: ActionFailure[] = [];
  await Promise.all([...bySlot].map(async ([slot, list]) => {
    let removedOld = false;
    for (const action of list) {
      try {
        await perform(action, service, observed, deps);
        if (action.kind === 'remove' && observed.find((c) => c.id === action.id)?.name === replicaName(service, slot)) removedOld = true;
      } catch (err) {
        const reason = `cannot ${action.kind} ${action.kind === 'create' || action.kind === 'prepare' ? (action.kind === 'create' && action.twin ? twinName(service, slot) : replicaName(service, slot)) : nameOf(action.id, observed)}: ${err instanceof Error ? err.message : String(err)}`;
        deps.logger.warn({ stack: service.stack, service: service.name, slot, action: action.kind }, reason);
        failed.push({ slot, reason, moved: removedOld });
        return;
      }
    }
  }));
  return { failed };
}

async function perform(action: RolloutAction, service: DesiredService, observed: readonly ObservedContainer[], deps: RolloutDeps): Promise<void> {
  const grace = service.spec.stopGracePeriodMs ?? DEFAULT_GRACE_MS;
  switch (action.kind) {
    case 'prepare': return deps.backend.prepare(service, deps.ctx);
    case 'create': {
      const name = action.twin ? twinName(service, action.slot) : undefined;
      await deps.backend.createContainer(service, action.slot, deps.ctx, name);
      return;
    }
    case 'start': return deps.backend.startContainer(action.id);
    case 'admit': {
      const c = observed.find((x) => x.id === action.id);
      return deps.traffic.admit({ containerId: action.id, name: c?.name ?? replicaName(service, action.slot), stack: service.stack, service: service.name, ip: c?.ip, specHash: c?.specHash ?? service.specHash });
    }
    case 'drain': return deps.traffic.retire(action.id, grace);
    case 'remove':
      deps.removing?.(action.id);
      return deps.backend.removeContainer(action.id);
    case 'promote': {
      const name = replicaName(service, action.slot);
      await deps.backend.renameContainer(action.id, name);
      return deps.traffic.renamed(action.id, name);
    }
  }
}

function nameOf(id: string, observed: readonly ObservedContainer[]): string {
  return observed.find((c) => c.id === id)?.name ?? id.slice(0, 12);
}

/** Hold records and the failure a finished rollout leaves. */
async function ended(record: RollingRecord, end: RollingEnd, deps: RolloutDeps, log: Logger): Promise<RolloutFailedError | undefined> {
  const base = { stack: record.stack, service: record.service, revision: record.revision, specHash: record.targetHash, at: deps.now() };
  const label = `${record.stack}/${record.service}`;
  switch (end.kind) {
    case 'converged':
    case 'converged-with-failures':
      if (end.kind === 'converged-with-failures') log.warn({ reason: end.reason }, `rolling update of ${label} went on past failures (failure_action: continue): ${end.reason}`);
      else log.info(`rolling update of ${label} done`);
      await deps.held.release(record.stack, record.service);
      return undefined;
    case 'turned-back':
      // Decided before the way back starts: a crash from here on resumes the rollback, never the failed update.
      await deps.held.hold({ ...base, end: 'rolled-back', reason: end.reason, restored: record.previous });
      log.warn({ reason: end.reason }, `rolling update of ${label} failed (${end.reason}): rolling back`);
      return end.nothingToRestore ? new RolloutFailedError(record.stack, record.service, record.revision, 'rolled-back', end.reason) : undefined;
    case 'paused':
      await deps.held.hold({ ...base, end: 'paused', reason: end.reason, restored: undefined });
      log.warn({ reason: end.reason }, `rolling update of ${label} failed (${end.reason}): pausing`);
      return new RolloutFailedError(record.stack, record.service, record.revision, 'paused', end.reason);
    case 'rolled-back': {
      const held = (await deps.held.list()).find((h) => h.stack === record.stack && h.service === record.service);
      log.warn(`rollback of ${label} done`);
      return new RolloutFailedError(record.stack, record.service, held?.revision ?? record.revision, 'rolled-back', held?.reason ?? 'a replica failed');
    }
    case 'rollback-failed':
      // A resumed rollback that fails keeps its hold as it was: the next pass tries the way back again.
      log.error({ reason: end.reason }, `rollback of ${label} failed: ${end.reason}`);
      return new RolloutFailedError(record.stack, record.service, record.revision, 'rollback-failed', end.reason);
  }
}
