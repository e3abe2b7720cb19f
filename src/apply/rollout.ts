// Drives one service's rollout by one step per lane pass: shows the step
// machine (strategies/: rolling, canary, blue-green) what runs in each slot, performs the engine
// and traffic calls it answers with, persists the record it hands back, and
// turns how it ended into hold records and a typed result. A newer target
// than the record's supersedes it here, at a step boundary: every phase
// leaves the engine in a state the planner understands, so the new plan
// takes over from whatever the old rollout left (a twin of the old target is
// a leftover it removes).

import type { Backend, DeployContext } from '../backends/backend.js';
import { canaryName, LABEL, replicaName, twinName } from '../desired/labels.js';
import type { DesiredService } from '../desired/model.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import { DockerUnavailableError, RolloutFailedError } from '../errors.js';
import { describeProbe } from '../health/describe.js';
import { replicaReadiness, type ProbeVerdict } from '../health/readiness.js';
import type { ProbedReplica, ProbeTracker } from '../health/prober.js';
import type { ProbeResult } from '../health/replica-health.js';
import { looksStopped, stoppedTogether } from '../health/stopped-together.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer } from '../observed/model.js';
import type { Operation } from '../plan/operations.js';
import { replicaVersion } from '../router/routes.js';
import { NO_TRAFFIC, type VersionTotals } from '../strategies/analysis.js';
import { beginBlueGreen, failBlueGreenSlot, nextColor, stepBlueGreen, type BlueGreenEnd, type BlueGreenRecord } from '../strategies/blue-green.js';
import { analysisDue, beginCanary, canaryNumbers, describeCanary, failCanarySlot, stepCanary, type CanaryEnd, type CanaryRecord, type RolloutCommand } from '../strategies/canary.js';
import { progressOf, type RolloutRecord } from '../strategies/record.js';
import { beginRolling, effectiveOrder, failSlot, stepRolling, type RollingEnd, type RollingRecord } from '../strategies/rolling.js';
import { stepLine, type ReplicaView, type RolloutAction, type RolloutProgress, type SlotView, type SlotViews } from '../strategies/step.js';
import type { HeldRolloutStore } from './held-rollouts.js';
import type { RolloutStore } from './rollout-store.js';
import type { Traffic } from './traffic.js';

export type RecreateOp = Extract<Operation, { kind: 'recreate-container' }>;

/** Where a canary's analysis reads its numbers: the router's per-version counters, and a Prometheus query. */
export interface AnalysisSource {
  /** The cumulative counters of `version` (a replica version, see router/routes.ts) on the routes named `route`; undefined when the router cannot be asked. */
  totals(route: string, version: string): Promise<VersionTotals | undefined>;
  /** The query's value, or why it could not be read. */
  prometheus(url: string, query: string): Promise<number | string>;
}

/** What rollouts need besides the engine: the router, the prober, the hold and progress records, a clock. */
export interface RolloutSupport {
  traffic: Traffic;
  probes: ProbeTracker;
  held: HeldRolloutStore;
  store: RolloutStore;
  now: () => number;
  /** Told before a container is removed on purpose: its death is a deploy, not something to heal. */
  removing?: (containerId: string) => void;
  /** Canary analysis; without it (one-shot commands) an analysis sees no requests. */
  analysis?: AnalysisSource;
  /** Runs a probe once (blue-green's pre_switch). */
  check?: (replica: ProbedReplica) => Promise<ProbeResult>;
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
  record: RolloutRecord | undefined;
  /** The stack's containers in this pass's snapshot. */
  observed: readonly ObservedContainer[];
  /** `capstan promote|abort` for this service, taken by this step. */
  command?: RolloutCommand;
}

export interface RolloutStepResult {
  /** The record to keep (undefined once the rollout ended or there is none). */
  record: RolloutRecord | undefined;
  /** The record a newer target replaced at this step. */
  superseded: RolloutRecord | undefined;
  wakeAt: number | undefined;
  /** `progressing`: more steps follow; `ended`: finished this pass (see `failure`). */
  state: 'progressing' | 'ended' | 'none';
  failure: RolloutFailedError | undefined;
  /** Slots that took the target this pass. */
  moved: number;
  progress: RolloutProgress | undefined;
  /** What became of the command. */
  command: { done: boolean; message: string } | undefined;
  /** How a canary or blue-green release ended, for status (`promoted`, `aborted: …`). */
  outcome: ReleaseOutcome | undefined;
}

/** The end of a canary or blue-green release as status records it (a status commit, never progress). */
export interface ReleaseOutcome {
  service: string;
  strategy: 'canary' | 'blue-green';
  revision: string;
  result: 'promoted' | 'aborted';
  /** For an abort: why, with the numbers. */
  detail: string | undefined;
}

type StepOutput = {
  record: RolloutRecord;
  actions: RolloutAction[];
  wakeAt: number | undefined;
  ended: () => Promise<{ failure: RolloutFailedError | undefined; outcome: ReleaseOutcome | undefined; again: boolean }>;
  done: boolean;
  command: { done: boolean; message: string } | undefined;
  /** A rolling update's end, for its progress line. */
  rollingEnd?: RollingEnd | undefined;
};

export async function stepServiceRollout(input: RolloutInput, deps: RolloutDeps): Promise<RolloutStepResult> {
  let record = input.record;
  let superseded: RolloutRecord | undefined;
  const target = input.target;
  const targetHash = input.ops[0]?.service.specHash ?? target?.specHash;
  const none = (command?: RolloutStepResult['command']): RolloutStepResult => ({ record: undefined, superseded, wakeAt: undefined, state: 'none', failure: undefined, moved: 0, progress: undefined, command, outcome: undefined });
  const targetDigest = input.ops.find((o) => o.update.targetDigest !== undefined)?.update.targetDigest;
  if (record !== undefined && (target === undefined || record.targetHash !== targetHash || (targetDigest !== undefined && record.targetDigest !== targetDigest))) {
    superseded = record;
    record = undefined;
    deps.logger.info({ stack: superseded.stack, service: superseded.service, rollout: superseded.id }, `rollout of ${superseded.stack}/${superseded.service} to ${superseded.revision.slice(0, 7)} superseded by a newer target; the new plan takes over at this step`);
  }
  const first = input.ops[0];
  if (record === undefined && first !== undefined) record = begin(input.ops, first.service, input.observed, deps);
  const nothing = input.command === undefined ? undefined : { done: false, message: `${target?.stack ?? ''}/${target?.name ?? ''} has no canary or blue-green step in progress` };
  if (record === undefined) return none(nothing);
  const service = first?.service ?? target;
  if (service === undefined) return none(nothing);

  const now = deps.now();
  const view = slotViews(record, service, input.observed, deps.probes);
  const log = deps.logger.child({ stack: record.stack, service: record.service, rollout: record.id });
  const step = await stepRecord(record, service, view, input.command, now, deps, log);
  let next = step.record;
  const before = movedSlots(next);
  const results = await runActions(step.actions, service, input.observed, deps);
  for (const f of results.failed) next = failAction(next, f.slot, f.reason, f.moved);
  const moved = Math.max(0, movedSlots(next) - before);
  const p = progressOf(next, step.wakeAt);
  const was = progressOf(record, undefined);
  if (next.strategy === 'rolling' && next.batch?.interrupted !== undefined && record.strategy === 'rolling' && record.batch?.interrupted === undefined) {
    log.warn({ reason: next.batch.interrupted.reason }, `${record.stack}/${record.service}: ${next.batch.interrupted.reason}; the batch waits for the engine, then starts its replicas again and watches them anew`);
  }
  if (was.phase !== p.phase || was.batch !== p.batch) log.info({ phase: p.phase, batch: p.batch, batches: p.batches, ...(p.weight === undefined ? {} : { weight: p.weight }) }, `${record.stack}/${record.service}: ${stepLine(p)}`);
  const started = input.record === undefined || superseded !== undefined;
  if (record.strategy === 'rolling' && next.strategy === 'rolling') reportProgress(started, record, next, step.rollingEnd, deps);
  if (!step.done) {
    if (record.strategy !== 'rolling') reportRelease(started ? undefined : was, p, undefined, deps);
    return { record: next, superseded, wakeAt: step.wakeAt, state: 'progressing', failure: undefined, moved, progress: p, command: step.command, outcome: undefined };
  }
  const end = await step.ended();
  if (record.strategy !== 'rolling') reportRelease(was, p, end.outcome, deps);
  return { record: undefined, superseded, wakeAt: end.again ? now : undefined, state: 'ended', failure: end.failure, moved, progress: undefined, command: step.command, outcome: end.outcome };
}

function movedSlots(record: RolloutRecord): number {
  if (record.strategy === 'rolling') return record.state.onNewSpec.length;
  if (record.strategy === 'canary') return record.promotion?.state.onNewSpec.length ?? 0;
  return 0;
}

function failAction(record: RolloutRecord, slot: number, reason: string, moved: boolean): RolloutRecord {
  switch (record.strategy) {
    case 'rolling': return failSlot(record, slot, reason, moved);
    case 'canary': return failCanarySlot(record, slot, reason, moved);
    case 'blue-green': return failBlueGreenSlot(record, slot, reason);
  }
}

async function stepRecord(record: RolloutRecord, service: DesiredService, view: SlotViews, command: RolloutCommand | undefined, now: number, deps: RolloutDeps, log: Logger): Promise<StepOutput> {
  if (record.strategy === 'rolling') {
    const step = stepRolling(record, view, now);
    const refused = command === undefined ? undefined : { done: false, message: `${record.stack}/${record.service} runs a rolling update: there is no step to ${command}` };
    return {
      record: step.record, actions: step.actions, wakeAt: step.wakeAt, done: step.end !== undefined, command: refused, rollingEnd: step.end,
      ended: async () => {
        const end = step.end ?? { kind: 'converged' as const };
        return { failure: await rollingEnded(step.record, end, deps, log), outcome: undefined, again: end.kind === 'turned-back' };
      },
    };
  }
  if (record.strategy === 'blue-green') {
    const step = stepBlueGreen(record, view, now);
    const refused = command === undefined ? undefined : { done: false, message: `${record.stack}/${record.service}: a blue-green release switches by itself once its replicas are ready; push a revert to go back` };
    return {
      record: step.record, actions: step.actions, wakeAt: step.wakeAt, done: step.end !== undefined, command: refused,
      ended: async () => blueGreenEnded(step.record, step.end ?? { kind: 'switched' }, deps, log),
    };
  }
  const { totals, prometheus } = await readAnalysis(record, now, deps.analysis);
  const step = stepCanary(record, { view, totals, prometheus, command, now });
  logEvaluation(record, step.record, log);
  void service;
  return {
    record: step.record, actions: step.actions, wakeAt: step.wakeAt, done: step.end !== undefined, command: step.command,
    ended: async () => canaryEnded(step.record, step.end ?? { kind: 'promoted' }, deps, log),
  };
}

/** The numbers a canary's analysis judges, read only when `analysisDue` says so (the router's counters of the new version, the Prometheus query). */
export async function readAnalysis(record: CanaryRecord, now: number, analysis: AnalysisSource | undefined): Promise<{ totals: VersionTotals | undefined; prometheus: number | string | undefined }> {
  if (!analysisDue(record, now)) return { totals: undefined, prometheus: undefined };
  const totals = (await analysis?.totals(`${record.stack}/${record.service}`, replicaVersion(record.targetHash))) ?? NO_TRAFFIC;
  const q = record.analysis?.prometheus;
  if (q === undefined) return { totals, prometheus: undefined };
  return { totals, prometheus: analysis === undefined ? 'no Prometheus client' : await analysis.prometheus(q.url, q.query) };
}

export function logEvaluation(before: CanaryRecord, after: CanaryRecord, log: Logger): void {
  const ev = after.last;
  if (ev === before.last || ev === undefined) return;
  log.info({ requests: ev.requests, errors: ev.errors, errorRate: ev.errorRate, p95Ms: ev.p95Ms, ok: ev.ok }, `${before.stack}/${before.service}: canary analysis ${ev.ok ? 'passed' : 'failed'} (${ev.requests} requests, ${ev.errors} errors${ev.p95Ms === undefined ? '' : `, p95 ${ev.p95Ms} ms`})`);
}

/** `rollout web/api: 1/3 replicas updated` as slots move (apply draws it, the dashboard shows it); how it ended. */
function reportProgress(started: boolean, before: RollingRecord, after: RollingRecord, end: RollingEnd | undefined, deps: RolloutDeps): void {
  const progress = deps.ctx.progress;
  if (progress === undefined) return;
  const back = before.state.direction === 'back';
  const key = `${back ? 'rollback' : 'rollout'} ${before.stack}/${before.service}`;
  const total = before.state.total;
  const moved = back ? total - after.state.pending.length : after.state.onNewSpec.length;
  const text = `${moved}/${total} replicas ${back ? 'rolled back' : 'updated'}`;
  if (started || moved !== (back ? total - before.state.pending.length : before.state.onNewSpec.length)) progress.update(key, text, total === 0 ? 1 : moved / total);
  if (end === undefined) return;
  if (end.kind === 'converged' || end.kind === 'converged-with-failures' || end.kind === 'rolled-back') progress.done(key, text, end.kind !== 'converged-with-failures');
  else if (end.kind === 'turned-back') progress.done(key, `${end.nothingToRestore ? 'rolled-back' : 'rolling back'}: ${end.reason}`, false);
  else progress.done(key, `${end.kind}: ${end.reason}`, false);
}

/** `canary web/api: step 2/3 (50%) paused` as it moves, and how it ended (apply draws it, the dashboard shows it). */
export function reportRelease(before: RolloutProgress | undefined, after: RolloutProgress, end: ReleaseOutcome | undefined, deps: Pick<RolloutDeps, 'ctx'>): void {
  const progress = deps.ctx.progress;
  if (progress === undefined) return;
  const key = `${after.strategy} ${after.stack}/${after.service}`;
  const text = stepLine(after);
  if (before === undefined || stepLine(before) !== text) progress.update(key, text, after.batches === 0 ? 1 : (after.batch - 1) / after.batches);
  if (end !== undefined) progress.done(key, end.result === 'promoted' ? 'promoted' : `aborted: ${end.detail ?? ''}`, end.result === 'promoted');
}

function begin(ops: readonly RecreateOp[], service: DesiredService, observed: readonly ObservedContainer[], deps: RolloutDeps): RolloutRecord {
  const first = ops[0] as RecreateOp;
  const now = deps.now();
  const bindsHostPort = deps.ctx.publishPorts && service.spec.ports.some((p) => p.published !== undefined);
  const id = `${service.stack}/${service.name}@${service.specHash.slice(0, 12)}.${now.toString(36)}`;
  const previous = ops.find((op) => op.update.previous !== undefined)?.update.previous;
  const slots = ops.map((o) => o.number);
  const targetDigest = ops.find((o) => o.update.targetDigest !== undefined)?.update.targetDigest;
  const common = { id, stack: service.stack, service: service.name, revision: deps.ctx.revision, targetHash: service.specHash, targetDigest, slots, progressDeadlineMs: service.spec.capstan.progressDeadlineMs, previous, now };
  const order = effectiveOrder(service.spec.update, bindsHostPort);
  const configs = { update: service.spec.update, rollback: service.spec.rollback };
  // A release is a canary or blue-green only going forward on a changed spec; a rollback, or a replica drifted by hand, rolls.
  const release = first.update.direction === 'forward' && ops.every((o) => o.reason === 'spec-changed') && !bindsHostPort;
  const canary = service.spec.capstan.canary;
  const blueGreen = service.spec.capstan.blueGreen;
  let record: RolloutRecord;
  if (release && service.spec.capstan.strategy === 'canary' && canary !== undefined) {
    record = beginCanary({ ...common, steps: canary.steps, analysis: canary.analysis, order, configs });
  } else if (release && service.spec.capstan.strategy === 'blue-green' && blueGreen !== undefined) {
    const live = observed.find((c) => c.service === service.name && c.number === first.number && c.id === first.containerId)?.labels[LABEL.slot];
    record = beginBlueGreen({ ...common, color: nextColor(live === 'blue' || live === 'green' ? live : undefined), spec: blueGreen });
  } else {
    record = beginRolling({ ...common, direction: first.update.direction, order, configs });
  }
  const what = record.strategy === 'canary' && canary !== undefined ? describeCanary(service.stack, service.name, canary.steps, canary.analysis)
    : record.strategy === 'blue-green' ? `blue-green release of ${service.stack}/${service.name} (new set: ${record.color})`
    : `${first.update.direction === 'back' ? 'rolling back' : 'rolling update of'} ${service.stack}/${service.name}`;
  deps.logger.info(
    { stack: service.stack, service: service.name, rollout: record.id, strategy: record.strategy, replicas: ops.length, order, parallelism: configs.update.parallelism, direction: first.update.direction },
    `${what}: ${ops.length} replica${ops.length === 1 ? '' : 's'}`,
  );
  return record;
}

/** What runs in each slot the rollout moves (and each canary number), from the pass's snapshot and the prober. */
function slotViews(record: RolloutRecord, service: DesiredService, observed: readonly ObservedContainer[], probes: ProbeTracker): Map<number, SlotView> {
  const numbers = new Set<number>(record.strategy === 'rolling'
    ? [...record.state.pending, ...(record.batch?.slots.map((s) => s.number) ?? [])]
    : record.strategy === 'canary' ? [...record.slots, ...canaryNumbers(record), ...(record.promotion?.state.pending ?? []), ...(record.promotion?.batch?.slots.map((s) => s.number) ?? [])] : record.slots);
  const stack = observed.filter((c) => c.stack === service.stack);
  const byName = new Map(stack.filter((c) => c.service === service.name).map((c) => [c.name, c]));
  const view = (c: ObservedContainer | undefined): ReplicaView | undefined => {
    if (c === undefined) return undefined;
    // A moved tag keeps the spec hash: the repo digest the replica was made from tells old and new apart.
    const onTarget = c.specHash === record.targetHash && (record.targetDigest === undefined || c.labels[LABEL.imageDigest] === record.targetDigest);
    const probe = onTarget ? service.spec.capstan.probe : decodeSpecLabel(c.labels)?.capstan.probe;
    if (probe !== undefined && onTarget && c.state === 'running') probes.track({ containerId: c.id, name: c.name, stack: c.stack, service: c.service, ip: c.ip, probe });
    const verdict: ProbeVerdict | undefined = probe === undefined ? undefined : { check: probe.check, health: probes.healthOf(c.id) };
    const ended = c.state === 'exited' || c.state === 'dead';
    const stop = ended ? { looksStopped: looksStopped(c), together: stoppedTogether(c, stack, record.startedAt) } : undefined;
    return { id: c.id, onTarget, created: c.state === 'created', readiness: replicaReadiness(c, verdict), stop };
  };
  return new Map([...numbers].map((n) => [n, {
    number: n, replica: view(byName.get(replicaName(service, n))), twin: view(byName.get(twinName(service, n))), canary: view(byName.get(canaryName(service, n))),
  }]));
}

interface ActionFailure {
  slot: number;
  reason: string;
  moved: boolean;
}

/**
 * A slot's actions in order, stopping at its first failure; slots side by
 * side. Service-wide actions (slot 0: the split, a blue-green switch) come
 * after every slot's: canaries being aborted have left the table before the
 * split goes, so none of them is ever given an even share.
 */
async function runActions(actions: readonly RolloutAction[], service: DesiredService, observed: readonly ObservedContainer[], deps: RolloutDeps): Promise<{ failed: ActionFailure[] }> {
  const bySlot = new Map<number, RolloutAction[]>();
  for (const a of actions) if (a.slot !== 0) bySlot.set(a.slot, [...(bySlot.get(a.slot) ?? []), a]);
  const failed: ActionFailure[] = [];
  const run = async (slot: number, list: readonly RolloutAction[]): Promise<void> => {
    let removedOld = false;
    for (const action of list) {
      try {
        await perform(action, service, observed, deps);
        if (action.kind === 'remove' && observed.find((c) => c.id === action.id)?.name === replicaName(service, slot)) removedOld = true;
      } catch (err) {
        // The engine going away is no slot's failure: the step throws, its record stays, and the next pass takes it again.
        if (err instanceof DockerUnavailableError) throw err;
        const reason = `cannot ${action.kind} ${describeTarget(action, service, observed)}: ${err instanceof Error ? err.message : String(err)}`;
        deps.logger.warn({ stack: service.stack, service: service.name, slot, action: action.kind }, reason);
        failed.push({ slot, reason, moved: removedOld });
        return;
      }
    }
  };
  await Promise.all([...bySlot].map(([slot, list]) => run(slot, list)));
  await run(0, actions.filter((a) => a.slot === 0));
  return { failed };
}

function describeTarget(action: RolloutAction, service: DesiredService, observed: readonly ObservedContainer[]): string {
  switch (action.kind) {
    case 'prepare': return replicaName(service, action.slot);
    case 'create': return action.as === 'twin' ? twinName(service, action.slot) : action.as === 'canary' ? canaryName(service, action.slot) : replicaName(service, action.slot);
    case 'split': return `the traffic split of ${service.stack}/${service.name}`;
    case 'switch': return `the traffic of ${service.stack}/${service.name} over`;
    default: return nameOf(action.id, observed);
  }
}

async function perform(action: RolloutAction, service: DesiredService, observed: readonly ObservedContainer[], deps: RolloutDeps): Promise<void> {
  const grace = service.spec.stopGracePeriodMs ?? DEFAULT_GRACE_MS;
  const admitted = (id: string, slot: number) => {
    const c = observed.find((x) => x.id === id);
    return { containerId: id, name: c?.name ?? replicaName(service, slot), stack: service.stack, service: service.name, ip: c?.ip, specHash: c?.specHash ?? service.specHash };
  };
  switch (action.kind) {
    case 'prepare': return deps.backend.prepare(service, deps.ctx);
    case 'create': {
      const name = action.as === 'twin' ? twinName(service, action.slot) : action.as === 'canary' ? canaryName(service, action.slot) : undefined;
      await deps.backend.createContainer(service, action.slot, deps.ctx, name, action.label);
      return;
    }
    case 'start': return deps.backend.startContainer(action.id);
    case 'admit': return deps.traffic.admit(admitted(action.id, action.slot));
    case 'drain': return deps.traffic.retire(action.id, grace);
    case 'remove':
      deps.removing?.(action.id);
      return deps.backend.removeContainer(action.id);
    case 'promote': {
      const name = replicaName(service, action.slot);
      await deps.backend.renameContainer(action.id, name);
      return deps.traffic.renamed(action.id, name);
    }
    case 'check': {
      const probe = service.spec.capstan.blueGreen?.preSwitch;
      const c = observed.find((x) => x.id === action.id);
      if (probe === undefined || deps.check === undefined) return;
      const result = await deps.check({ containerId: action.id, name: c?.name ?? twinName(service, action.slot), stack: service.stack, service: service.name, ip: c?.ip, probe });
      if (!result.ok) throw new Error(`pre_switch ${describeProbe(probe.check)} failed: ${result.output}`);
      return;
    }
    case 'split': return deps.traffic.split(service.stack, service.name, action.split);
    case 'switch': return deps.traffic.switchOver(action.admit.map((a) => admitted(a.id, a.slot)), action.drain, grace);
  }
}

function nameOf(id: string, observed: readonly ObservedContainer[]): string {
  return observed.find((c) => c.id === id)?.name ?? id.slice(0, 12);
}

/** Hold records and the failure a finished rolling update leaves. */
async function rollingEnded(record: RollingRecord, end: RollingEnd, deps: RolloutDeps, log: Logger): Promise<RolloutFailedError | undefined> {
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

export type Ended = { failure: RolloutFailedError | undefined; outcome: ReleaseOutcome | undefined; again: boolean };

/**
 * A canary promoted releases any hold; an aborted one is held like a
 * rolled-back update (not retried until a new commit): traffic is already
 * back on the stable replicas, which never changed. A promotion whose rolling
 * update turned back hands the way back to the planner, as a rolling update.
 */
export async function canaryEnded(record: CanaryRecord, end: CanaryEnd, deps: Pick<RolloutDeps, 'held' | 'now'>, log: Logger): Promise<Ended> {
  const label = `${record.stack}/${record.service}`;
  const outcome = (result: ReleaseOutcome['result'], detail?: string): ReleaseOutcome => ({ service: record.service, strategy: 'canary', revision: record.revision, result, detail });
  if (end.kind === 'promoted') {
    log.info(`canary of ${label} promoted: ${record.revision.slice(0, 7)} serves all traffic`);
    await deps.held.release(record.stack, record.service);
    return { failure: undefined, outcome: outcome('promoted'), again: false };
  }
  await deps.held.hold({ stack: record.stack, service: record.service, revision: record.revision, specHash: record.targetHash, at: deps.now(), end: 'rolled-back', reason: end.reason, restored: record.previous, strategy: 'canary' });
  log.warn({ reason: end.reason, ...(end.kind === 'aborted' && end.evaluation !== undefined ? { evaluation: end.evaluation } : {}) }, `canary of ${label} aborted: ${end.reason}; traffic is back on the stable version`);
  const failure = new RolloutFailedError(record.stack, record.service, record.revision, 'rolled-back', end.reason, 'canary');
  const back = end.kind === 'promotion-failed' && end.promotion.kind === 'turned-back' && !end.promotion.nothingToRestore;
  return { failure, outcome: outcome('aborted', end.reason), again: back };
}

async function blueGreenEnded(record: BlueGreenRecord, end: BlueGreenEnd, deps: RolloutDeps, log: Logger): Promise<Ended> {
  const label = `${record.stack}/${record.service}`;
  const outcome = (result: ReleaseOutcome['result'], detail?: string): ReleaseOutcome => ({ service: record.service, strategy: 'blue-green', revision: record.revision, result, detail });
  if (end.kind === 'switched') {
    log.info(`blue-green release of ${label} done: the ${record.color} set serves ${record.revision.slice(0, 7)}`);
    await deps.held.release(record.stack, record.service);
    return { failure: undefined, outcome: outcome('promoted'), again: false };
  }
  await deps.held.hold({ stack: record.stack, service: record.service, revision: record.revision, specHash: record.targetHash, at: deps.now(), end: 'rolled-back', reason: end.reason, restored: record.previous, strategy: 'blue-green' });
  log.warn({ reason: end.reason, switchedBack: end.switchedBack }, `blue-green release of ${label} failed: ${end.reason}; ${end.switchedBack ? 'switched back to the old set' : 'the live set never stopped serving'}`);
  return { failure: new RolloutFailedError(record.stack, record.service, record.revision, 'rolled-back', end.reason, 'blue-green'), outcome: outcome('aborted', end.reason), again: false };
}
