// A canary release on Swarm, one step per lane pass, by the same step
// machine as on one engine (strategies/canary.ts): the new spec runs in a
// second service, `<stack>_<service>-canary`, beside the stable one and under
// the same network aliases, so the service's name (dnsrr) and
// `tasks.<name>` resolve to the tasks of both. Each step sizes it to the
// machine's canary count for the step's weight (at least one task); the
// stable service keeps its replicas, as the stable replicas do on one
// engine. So a step's share is the task ratio canary / (stable + canary),
// balanced by Swarm's DNS, not a weight a router enforces; analysis judges
// the Prometheus query only (no router counts requests per version here).
// The last step's promotion is Swarm's rolling update of the stable service
// to the new spec (followed through its UpdateStatus, like any update), then
// the canary service goes; an abort removes the canary service, and the
// stable service never changed. The record is persisted by the lane after
// every step, as on one engine.

import type { ServiceSpec as SwarmServiceSpec } from 'dockerode';
import type { DesiredService } from '../desired/model.js';
import type { RolloutFailedError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedService } from '../observed/model.js';
import type { EngineRollout, Operation } from '../plan/operations.js';
import { beginCanary, canaryCount, canaryNumbers, describeCanary, endEnginePromotion, failCanarySlot, stepCanary, type CanaryRecord, type CanaryStepResult, type RolloutCommand } from '../strategies/canary.js';
import { progressOf } from '../strategies/record.js';
import type { ReplicaView, RolloutProgress, SlotView } from '../strategies/step.js';
import { canaryEnded, logEvaluation, readAnalysis, reportRelease, type ReleaseOutcome, type RolloutDeps } from './rollout.js';
import type { SwarmEngine } from '../backends/swarm/swarm-engine.js';

export type CanaryOp = Extract<Operation, { kind: 'canary-service' }>;

/** How soon a lane looks again while canary tasks start or Swarm promotes; a task start is ~1 s. */
const POLL_MS = 500;

export interface SwarmCanaryInput {
  /** This pass's canary-service operation (absent once the stable service runs the new spec, or when only a command came). */
  op: CanaryOp | undefined;
  /** Git's service (or what a hold restores); undefined when it left Git. */
  target: DesiredService | undefined;
  record: CanaryRecord | undefined;
  stable: ObservedService | undefined;
  canary: ObservedService | undefined;
  /** Swarm's rolling update of the stable service as the plan saw it: the promotion under way, or how Swarm ended it. */
  promotion: EngineRollout | undefined;
  command: RolloutCommand | undefined;
}

export interface SwarmCanaryDeps extends Pick<RolloutDeps, 'ctx' | 'held' | 'now' | 'analysis'> {
  engine: SwarmEngine;
  logger: Logger;
  /** The service's Swarm spec (the stable service), and its canary service's with `replicas` tasks. */
  stableSpec: (service: DesiredService) => SwarmServiceSpec;
  canarySpec: (service: DesiredService, replicas: number) => SwarmServiceSpec;
  auth: (image: string) => Promise<Record<string, string> | undefined>;
}

export interface SwarmCanaryResult {
  record: CanaryRecord | undefined;
  superseded: CanaryRecord | undefined;
  wakeAt: number | undefined;
  failure: RolloutFailedError | undefined;
  outcome: ReleaseOutcome | undefined;
  command: { done: boolean; message: string } | undefined;
  progress: RolloutProgress | undefined;
}

export async function stepSwarmCanary(input: SwarmCanaryInput, deps: SwarmCanaryDeps): Promise<SwarmCanaryResult> {
  const now = deps.now();
  const target = input.op?.service ?? input.target;
  let record = input.record;
  let superseded: CanaryRecord | undefined;
  if (record !== undefined && (target === undefined || record.targetHash !== target.specHash)) {
    superseded = record;
    record = undefined;
    deps.logger.info({ stack: superseded.stack, service: superseded.service, rollout: superseded.id }, `canary of ${superseded.stack}/${superseded.service} to ${superseded.revision.slice(0, 7)} superseded by a newer target; the new plan takes over at this step`);
  }
  if (record === undefined && input.op !== undefined && target !== undefined) record = begin(input.op, target, deps, now);
  const none = (message?: string): SwarmCanaryResult => ({ record: undefined, superseded, wakeAt: undefined, failure: undefined, outcome: undefined, progress: undefined, command: message === undefined ? undefined : { done: false, message } });
  if (record === undefined || target === undefined) return none(input.command === undefined ? undefined : `${target?.stack ?? ''}/${target?.name ?? ''} has no canary step in progress`);

  const log = deps.logger.child({ stack: record.stack, service: record.service, rollout: record.id });
  const view = canaryViews(record, input.canary);
  let step: CanaryStepResult;
  try {
    step = record.phase === 'promoting' ? await promote(record, input, view, deps, now) : await stepWithAnalysis(record, input, view, deps, now, log);
    if (step.record.phase === 'promoting' && record.phase !== 'promoting') step = { ...step, ...(await promote(step.record, input, view, deps, now)), command: step.command };
  } catch (err) {
    // The stable service could not be updated: the canary aborts, the stable service never changed.
    step = stepCanary(failCanarySlot(record, 1, `cannot update ${input.stable?.name ?? record.service}: ${message(err)}`, false), { view, totals: undefined, prometheus: undefined, command: undefined, now });
  }
  let next = step.record;
  try {
    await sizeCanary(next, step.end !== undefined, target, input.canary, deps);
  } catch (err) {
    const reason = `cannot ${input.canary === undefined ? 'create' : 'update'} ${input.canary?.name ?? `the canary service of ${record.stack}/${record.service}`}: ${message(err)}`;
    log.warn(reason);
    next = failCanarySlot(next, 1, reason, false);
  }

  const before = progressOf(record, undefined);
  const after = progressOf(next, step.wakeAt);
  if (before.phase !== after.phase || before.batch !== after.batch) log.info({ phase: after.phase, batch: after.batch, batches: after.batches, weight: after.weight }, `${record.stack}/${record.service}: step ${after.batch}/${after.batches} (${after.weight ?? 0}%) ${after.phase}`);
  const started = input.record === undefined || superseded !== undefined;
  if (step.end === undefined) {
    reportRelease(started ? undefined : before, after, undefined, deps);
    return { record: next, superseded, wakeAt: step.wakeAt, failure: undefined, outcome: undefined, command: step.command, progress: after };
  }
  const end = await canaryEnded(next, step.end, deps, log);
  reportRelease(before, after, end.outcome, deps);
  return { record: undefined, superseded, wakeAt: undefined, failure: end.failure, outcome: end.outcome, command: step.command, progress: undefined };
}

function begin(op: CanaryOp, service: DesiredService, deps: SwarmCanaryDeps, now: number): CanaryRecord {
  const canary = service.spec.capstan.canary;
  const steps = canary?.steps ?? [{ weight: 100, pause: undefined }];
  const slots = Array.from({ length: service.spec.replicas }, (_, i) => i + 1);
  const record = beginCanary({
    id: `${service.stack}/${service.name}@${service.specHash.slice(0, 12)}.${now.toString(36)}`, stack: service.stack, service: service.name, revision: deps.ctx.revision,
    targetHash: service.specHash, slots, steps, analysis: canary?.analysis, order: service.spec.update.order,
    configs: { update: service.spec.update, rollback: service.spec.rollback }, progressDeadlineMs: service.spec.capstan.progressDeadlineMs, previous: op.previous, now,
  });
  deps.logger.info({ stack: service.stack, service: service.name, rollout: record.id, strategy: 'canary' }, `${describeCanary(service.stack, service.name, steps, canary?.analysis)}: in ${op.canaryName}, beside ${op.name}`);
  return record;
}

async function stepWithAnalysis(record: CanaryRecord, input: SwarmCanaryInput, view: ReturnType<typeof canaryViews>, deps: SwarmCanaryDeps, now: number, log: Logger): Promise<CanaryStepResult> {
  const { totals, prometheus } = await readAnalysis(record, now, deps.analysis);
  const step = stepCanary(record, { view, totals, prometheus, command: input.command, now });
  logEvaluation(record, step.record, log);
  return step;
}

/** The last step: Swarm's rolling update of the stable service is the promotion, followed pass by pass. */
async function promote(entered: CanaryRecord, input: SwarmCanaryInput, view: ReturnType<typeof canaryViews>, deps: SwarmCanaryDeps, now: number): Promise<CanaryStepResult> {
  // The machine's own promotion (a nested rolling update of our replicas) is Swarm's here.
  const record: CanaryRecord = { ...entered, promotion: undefined };
  const p = input.promotion;
  const refused = input.command === undefined ? undefined : { done: false, message: `cannot ${input.command} ${record.stack}/${record.service} now: it is being promoted` };
  const wait = (): CanaryStepResult => ({ record, actions: [], wakeAt: now + POLL_MS, end: undefined, command: refused });
  if (p !== undefined && p.specHash === record.targetHash && (p.state === 'rolled-back' || p.state === 'paused' || p.state === 'rollback-failed')) {
    return { ...endEnginePromotion(record, { ok: false, reason: p.reason }, view, now), command: refused };
  }
  if (p !== undefined && (p.state === 'rolling' || p.state === 'settling')) return wait();
  const stable = input.stable;
  if (stable?.specHash === record.targetHash) return { ...endEnginePromotion(record, { ok: true }, view, now), command: refused };
  const target = input.op?.service ?? input.target;
  if (stable === undefined || target === undefined) throw new Error(`${record.stack}/${record.service} has no stable service to promote`);
  await deps.engine.updateService(stable.id, stable.version, deps.stableSpec(target), await deps.auth(target.spec.image));
  deps.logger.info({ stack: record.stack, service: record.service }, `promote canary of ${record.stack}/${record.service}: update service ${stable.name} to the new spec (Swarm's rolling update)`);
  return wait();
}

/** The canary service at the size the record's step wants: created, resized or moved to the target spec in one call; removed once the release ends. */
async function sizeCanary(record: CanaryRecord, ended: boolean, target: DesiredService, canary: ObservedService | undefined, deps: SwarmCanaryDeps): Promise<void> {
  const gone = ended || record.phase === 'aborting' || record.phase === 'finishing';
  const want = gone ? 0 : canaryCount(record.steps[record.step]?.weight ?? 100, record.slots.length);
  if (want === 0) {
    if (canary !== undefined) await deps.engine.removeService(canary.id);
    return;
  }
  if (canary === undefined) {
    await deps.engine.createService(deps.canarySpec(target, want), await deps.auth(target.spec.image));
    return;
  }
  if (canary.specHash !== record.targetHash || canary.replicas !== want) await deps.engine.updateService(canary.id, canary.version, deps.canarySpec(target, want), await deps.auth(target.spec.image));
}

/**
 * The canary numbers as the machine sees them: canary n is the n-th task
 * Swarm wants running. A task of the new spec that failed since the release
 * began fails the canary (Swarm would restart it; a canary that crashes is
 * the verdict).
 */
function canaryViews(record: CanaryRecord, canary: ObservedService | undefined): Map<number, SlotView> {
  const tasks = (canary?.tasks ?? []).filter((t) => t.desiredState === 'running').sort((a, b) => a.slot - b.slot);
  const failed = (canary?.tasks ?? []).find((t) => t.specHash === record.targetHash && (t.state === 'failed' || t.state === 'rejected') && t.at >= record.startedAt);
  return new Map(canaryNumbers(record).map((n): [number, SlotView] => {
    const t = tasks[n - 1];
    let view: ReplicaView | undefined = t === undefined ? undefined : {
      id: t.id, onTarget: t.specHash === record.targetHash, created: false,
      readiness: t.state === 'running' ? { kind: 'ready' } : { kind: 'waiting', why: `canary task ${t.state || 'pending'}` },
    };
    if (n === 1 && failed !== undefined) view = { id: failed.id, onTarget: true, created: false, readiness: { kind: 'failed', reason: `task ${failed.state}${failed.error === '' ? '' : `: ${failed.error}`}` } };
    return [n, { number: n, replica: undefined, twin: undefined, canary: view }];
  }));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
