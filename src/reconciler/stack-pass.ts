// One lane pass of one stack (DESIGN §4): take the stack as the newest commit
// has it, one snapshot of its objects, plan, apply what needs one engine call
// each and advance each rollout by one step, then report. Level-based: what
// runs and the persisted rollout records are read afresh every pass, so a
// crash anywhere is healed by the next one. The pass ends with a typed
// outcome — converged, progressing, superseded, failed or held — and says
// when it wants to run again; lastAppliedRevision moves only on converged.

import type { OperationFailure } from '../apply/executor.js';
import type { RolloutSupport } from '../apply/rollout.js';
import { join } from 'node:path';
import type { DeployContext } from '../backends/backend.js';
import type { AnyBackend } from '../apply/port.js';
import type { DesiredStack, DesiredState } from '../desired/model.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import { ImagePullError, RolloutFailedError } from '../errors.js';
import type { DigestChecker } from '../images/digest-check.js';
import type { ProbedReplica } from '../health/prober.js';
import type { Logger } from '../logging/logger.js';
import type { Progress } from '../logging/progress.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import type { Plan } from '../plan/operations.js';
import type { HealingInput } from '../plan/planner.js';
import { observedStacks } from '../observed/stacks.js';
import { nodeStatuses } from '../status/swarm-health.js';
import { describeOperation, operationRecord } from '../plan/render.js';
import { contentReader, type ContentSources } from '../secrets/contents.js';
import { dataDirsOf, runningImage, servicesOf, type StackInput, type StackOutcome as StatusOutcome } from '../status/model.js';
import type { LaneOutcomeKind, StackReport } from '../status/reporter.js';
import { assessServices, type HealthFacts, type ServiceHealth } from '../status/service-health.js';
import type { RolloutCommand } from '../strategies/canary.js';
import { heldOut, splitOf, type RolloutRecord } from '../strategies/record.js';
import { describeHeld } from '../strategies/rolling.js';
import type { ReleaseOutcome } from '../apply/rollout.js';
import type { RolloutProgress, TrafficSplit } from '../strategies/step.js';
import { needsCheckout, type StackAtRevision } from './desired-source.js';
import { migrateLegacyBinds } from './legacy-binds.js';
import { replicaName } from '../desired/labels.js';
import type { AutoscaleSpec } from '../manifests/model.js';
import { imageFacts } from './pass.js';
import type { StackBackoff } from './stack-backoff.js';

/** Why a pass ended as it did, as a value (metrics, logs, tests). */
export type LaneReason =
  | 'Converged'
  | 'RolloutProgressing' | 'Applied' | 'AwaitingReadiness' | 'AwaitingDependency'
  | 'Superseded'
  | 'ApplyFailed' | 'RolloutFailed' | 'ManifestsInvalid' | 'ReplicasFailing'
  | 'SyncWindowClosed' | 'RolloutHeld';

export interface LaneOutcome {
  kind: LaneOutcomeKind;
  reason: LaneReason;
  stack: string;
  revision: string | undefined;
  /** Operations planned, and done (rollouts count the slots they moved). */
  planned: number;
  /** The planned operations, one line each (`recreate web-api-2: image …`), and as records (the JSON plan's). */
  lines: readonly string[];
  operations: readonly ReturnType<typeof operationRecord>[];
  applied: number;
  failures: readonly OperationFailure[];
  progress: readonly RolloutProgress[];
  /** When the lane wants to run again by itself (ms). */
  requeueAt: number | undefined;
  /** Each service's health as the pass left it (all Healthy when converged); undefined when nothing valid is known of the stack. */
  health: readonly ServiceHealth[] | undefined;
  /** The newest commit's problems when its manifests are invalid (the lane heals to its last good revision meanwhile). */
  invalid: { revision: string; problems: readonly string[] } | undefined;
}

/** What a lane remembers between its passes; nothing here is needed after a restart. */
export interface LaneMemory {
  /** The stack's last valid desired state: healed to while a newer commit's file is invalid. */
  lastGood: StackAtRevision | undefined;
  /** When each service began waiting for its depends_on. */
  dependencyWaits: Map<string, number>;
  /** The invalid revision whose problems were logged: a bad commit is reported once, not on every pass. */
  invalidLogged: string | undefined;
  /** This pass's desired stack with the autoscaler's counts. */
  scaled?: DesiredStack | undefined;
}

export function newLaneMemory(): LaneMemory {
  return { lastGood: undefined, dependencyWaits: new Map(), invalidLogged: undefined };
}

/** The daemon's own parts a pass feeds; one-shot commands leave them out. */
export interface DaemonHooks {
  healing(stack: string, observed: ObservedState): HealingInput;
  /** Returns when the lane should look again for healing's sake; `rotation` and `splits` come from the rollouts in progress. */
  planned(stack: string, desired: DesiredStack | undefined, plan: Plan, observed: ObservedState, rotation: Rotation, splits: ReadonlyMap<string, TrafficSplit>): number | undefined;
  /** Ids of the operations this pass did. */
  applied(stack: string, plan: Plan, observed: ObservedState, done: ReadonlySet<string>): void;
  facts(stack: string): Promise<HealthFacts>;
}

export interface StackPassDeps {
  /** The port to the engine or the swarm. */
  backend: AnyBackend;
  instance: string;
  publishPorts: boolean;
  contents: ContentSources | undefined;
  /** The repository's files at a revision on disk (builds, relative binds of tracked files). */
  materialize: (revision: string) => Promise<string>;
  /** A blob of the repository at a revision (secret and config files are read from Git objects, never from a checkout). */
  readBlob: (revision: string, id: string) => Promise<Uint8Array>;
  /** Absolute data dir: the data directories of relative binds live in its `binds/`. */
  dataDir?: string | undefined;
  rollout: RolloutSupport;
  parallelism: number;
  logger: Logger;
  now: () => number;
  /** False while a sync window holds changes (and no --force). */
  syncAllowed: () => boolean;
  /** `apply --force`: try revisions whose rollout failed before, too. */
  force: boolean;
  hooks: DaemonHooks | undefined;
  /** Long work (builds, rollouts) reports here: `apply` draws lines, the daemon feeds its dashboard. */
  progress?: Progress;
  /** Looks up moving tags in their registries; without it only the engine's images count. */
  digests?: Pick<DigestChecker, 'digests'>;
  /** The daemon's: a stack that keeps failing the same way waits between attempts. One-shot commands try everything. */
  backoff?: StackBackoff;
  /** A snapshot of the whole instance taken just now (a one-shot command's first pass): looked at instead of observing the stack again. */
  snapshot?: ObservedState | undefined;
  /** Status; resolves with the auto-revert commit it pushed, if it did. */
  report: ((stack: string, report: StackReport) => Promise<string | undefined>) | undefined;
  /** `capstan promote|abort` waiting for the stack's next pass; the daemon's only. */
  commands?: CommandDesk;
  /** Autoscaled services of the stack held at a bound for longer than their cooldown (status says so). */
  autoscaleLimits?: (stack: string) => readonly { service: string; bound: 'min' | 'max'; limit: number }[];
  /** The daemon's autoscaler: given the autoscaled services and what runs, the counts to plan with. */
  autoscale?: (stack: string, services: readonly { name: string; spec: AutoscaleSpec | undefined; running: number; starting: number }[]) => ReadonlyMap<string, number>;
}

/** Where a lane takes the operators' commands for its stack, and answers them. */
export interface CommandDesk {
  take(stack: string): Map<string, RolloutCommand>;
  answer(stack: string, service: string, answer: { done: boolean; message: string }): void;
}

/** Looks again this soon while replicas start and no event has said so (events and probes usually wake the lane first). */
const READINESS_RECHECK_MS = 2000;

export async function runStackPass(stack: string, at: StackAtRevision | undefined, memory: LaneMemory, deps: StackPassDeps): Promise<LaneOutcome> {
  const invalid = at !== undefined && at.errors.length > 0;
  if (at !== undefined && !invalid) memory.lastGood = at;
  // While its newest file is invalid, the stack is healed to what last was valid (nothing changes otherwise).
  const working = invalid ? memory.lastGood : at;
  const revision = working?.revision ?? at?.revision;
  let desiredStack = working?.desired;
  const log = deps.logger.child({ stack, ...(revision === undefined ? {} : { revision }) });
  if (invalid && memory.invalidLogged !== at.revision) {
    memory.invalidLogged = at.revision;
    for (const e of at.errors) log.error({ file: e.file, line: e.line, col: e.col, code: e.code }, e.format());
    log.error({ code: 'E_MANIFESTS_INVALID', revision: at.revision }, `${at.revision.slice(0, 7)}: ${at.errors.length} problem${at.errors.length === 1 ? '' : 's'} in the manifests of ${stack}; ${memory.lastGood === undefined ? 'nothing of it is changed' : `the last good revision ${memory.lastGood.revision.slice(0, 7)} keeps running`}`);
  }
  // Volumes are only ever created, never pruned: a stack that declares none needs no look at them.
  const volumes = desiredStack === undefined || Object.values(desiredStack.spec.volumes).some((v) => !v.external);
  const [snapshot, images] = await Promise.all([
    deps.snapshot ?? deps.backend.observe(deps.instance, { stack, volumes }),
    desiredStack === undefined ? undefined : imageFacts(deps, desiredStack.services),
  ]);
  const observed = scoped(images === undefined ? snapshot : { ...snapshot, images }, stack);
  // An autoscaled service runs the count the autoscaler chose (Git holds its bounds), not deploy.replicas.
  if (desiredStack !== undefined && deps.autoscale !== undefined) desiredStack = withAutoscale(desiredStack, observed.containers, deps.autoscale);
  memory.scaled = desiredStack;
  const [allHeld, records] = await Promise.all([deps.force ? [] : deps.rollout.held.list(), deps.rollout.store.read(stack)]);
  const desired: DesiredState = { revision: revision ?? '', stacks: desiredStack === undefined ? [] : [desiredStack] };
  if (invalid && desiredStack === undefined && observedStacks(observed).length > 0) {
    // Nothing valid is known to heal to (an operator restart on a bad commit): leave what runs alone.
    return finish(stack, at, memory, deps, { plan: undefined, observed, records, outcome: base('failed', 'ManifestsInvalid') });
  }
  const plan = deps.backend.plan(desired, observed, { held: allHeld.filter((h) => h.stack === stack), healing: deps.hooks?.healing(stack, observed), force: deps.force });
  const rotation = outOfRotation(records, observed.containers);
  const healWake = deps.hooks?.planned(stack, desiredStack, plan, observed, rotation, splitsOf(records));
  const commands = deps.commands?.take(stack) ?? new Map<string, RolloutCommand>();
  const answerRest = (answered: ReadonlyMap<string, { done: boolean; message: string }> = new Map()): void => {
    for (const [service, command] of commands) deps.commands?.answer(stack, service, answered.get(service) ?? { done: false, message: `${stack}/${service} has no canary step to ${command}` });
  };

  if (plan.operations.length > 0 && !deps.syncAllowed()) {
    log.info({ operations: plan.operations.length, reason: 'SyncWindowClosed' }, `sync window closed: ${plan.operations.length} changes wait`);
    answerRest();
    return finish(stack, at, memory, deps, { plan, observed, records, outcome: { ...base('held', 'SyncWindowClosed'), planned: plan.operations.length, requeueAt: healWake } });
  }
  // Swarm's own rolling updates under way (or just ended) are followed like our rollouts.
  if (plan.operations.length === 0 && records.size === 0 && (plan.engineRollouts ?? []).length === 0) {
    answerRest();
    const settled = await settle(stack, desired, plan, observed, deps, healWake);
    const outcome = invalid ? { ...settled, kind: 'failed' as const, reason: 'ManifestsInvalid' as const } : settled;
    return finish(stack, at, memory, deps, { plan, observed, records, outcome });
  }

  // A stack that keeps failing the same way waits between attempts; its last failures stand meanwhile.
  const { plan: runnable, waiting } = deps.backoff?.split(plan, deps.now()) ?? { plan, waiting: [] };
  const checkoutDir = revision !== undefined && runnable.operations.length > 0 && needsCheckout(desired) ? await deps.materialize(revision) : undefined;
  if (runnable.operations.length > 0) log.info({ operations: runnable.operations.length }, `applying ${runnable.operations.length} operation${runnable.operations.length === 1 ? '' : 's'}`);
  const bindsDir = deps.dataDir === undefined ? undefined : join(deps.dataDir, 'binds');
  if (deps.dataDir !== undefined && bindsDir !== undefined && runnable.operations.length > 0) {
    await migrateLegacyBinds(observed, desired, { checkoutsDir: join(deps.dataDir, 'checkouts'), bindsDir }, log);
  }
  const readContent = contentReader(deps.contents ?? { env: {}, ageKeyFile: undefined }, (id) => deps.readBlob(revision ?? '', id));
  const ctx: DeployContext = {
    instance: deps.instance, revision: revision ?? '', checkoutDir, ...(bindsDir === undefined ? {} : { bindsDir }), publishPorts: deps.publishPorts, readContent,
    ...(deps.progress === undefined ? {} : { progress: deps.progress }),
  };
  const backoff = deps.backoff;
  const result = await deps.backend.applyStack({ plan: runnable, desired: desiredStack, observed: observed.containers, records, dependencyWaits: memory.dependencyWaits, commands }, ctx, {
    parallelism: deps.parallelism, logger: log, rollout: deps.rollout,
    ...(backoff === undefined ? {} : { repeated: (s: string, line: string, error: Error) => backoff.isRepeat(s, line, error) }),
  });
  answerRest(result.commands);
  backoff?.record(runnable, result.failures.map((f) => ({ operation: f.line, error: f.error, stack: f.stack })), deps.now());
  result.failures.push(...waiting.map((w) => ({ id: `backoff:${w.stack}`, reason: 'waiting' as const, stack: w.stack, service: undefined, line: w.operation, error: w.error })));
  if (!sameRecords(records, result.records)) await deps.rollout.store.write(stack, result.records);
  deps.hooks?.applied(stack, plan, observed, new Set(result.done));

  const requeueAt = earliest(result.wakeAt, healWake, result.applied > 0 || result.finished > 0 ? deps.now() : undefined, backoff?.retryAt(stack));
  const common = { planned: plan.operations.length, applied: result.applied, failures: result.failures, progress: result.progress, requeueAt };
  let outcome: LaneOutcome;
  if (result.failures.length > 0) outcome = { ...base('failed', result.failures.some((f) => f.reason === 'rollout') ? 'RolloutFailed' : 'ApplyFailed'), ...common };
  else if (result.superseded.length > 0) outcome = { ...base('superseded', 'Superseded'), ...common, requeueAt: deps.now() };
  else if (result.records.size > 0 || result.underway > 0) outcome = { ...base('progressing', 'RolloutProgressing'), ...common };
  else if (result.applied > 0 || result.finished > 0) outcome = { ...base('progressing', 'Applied'), ...common };
  else if (result.waiting.length > 0) outcome = { ...base('progressing', 'AwaitingDependency'), ...common };
  else {
    const settled = await settle(stack, desired, plan, observed, deps, requeueAt);
    outcome = { ...settled, ...common, requeueAt: settled.requeueAt };
  }
  // Healing to the last good revision does not make an invalid commit any better.
  if (invalid) outcome = { ...outcome, kind: 'failed', reason: 'ManifestsInvalid' };
  return finish(stack, at, memory, deps, { plan, observed, records: result.records, outcome, releases: result.outcomes });

  function base(kind: LaneOutcomeKind, reason: LaneReason): LaneOutcome {
    return { kind, reason, stack, revision, planned: 0, lines: [], operations: [], applied: 0, failures: [], progress: [], requeueAt: undefined, health: undefined, invalid: undefined };
  }
}

/** Nothing left to do this pass: converged when every replica is ready, else waiting for them or failing. */
async function settle(stack: string, desired: DesiredState, plan: Plan, observed: ObservedState, deps: StackPassDeps, healWake: number | undefined): Promise<LaneOutcome> {
  const revision = plan.revision === '' ? undefined : plan.revision;
  const outcome = (kind: LaneOutcomeKind, reason: LaneReason, requeueAt: number | undefined): LaneOutcome => ({ kind, reason, stack, revision, planned: 0, lines: [], operations: [], applied: 0, failures: [], progress: [], requeueAt, health: undefined, invalid: undefined });
  if (plan.heldRollouts.length > 0) return outcome('held', 'RolloutHeld', healWake);
  const health = assessServices(desired, observed, await deps.hooks?.facts(stack), deps.now());
  if (health.every((h) => h.status === 'Healthy')) return outcome('converged', 'Converged', healWake);
  const failing = health.some((h) => h.reason === 'CrashLoop') || observed.containers.some((c) => c.state === 'exited' || c.state === 'dead' || c.state === 'restarting');
  if (failing) return outcome('failed', 'ReplicasFailing', healWake);
  return outcome('progressing', 'AwaitingReadiness', earliest(healWake, deps.now() + READINESS_RECHECK_MS));
}

interface Finished {
  plan: Plan | undefined;
  observed: ObservedState;
  records: ReadonlyMap<string, RolloutRecord>;
  outcome: LaneOutcome;
  /** Canary and blue-green releases that ended this pass. */
  releases?: readonly ReleaseOutcome[];
}

/** Completes the outcome with what the pass left (health, an invalid commit's problems), reports status, and hands the outcome to the lane. */
async function finish(stack: string, at: StackAtRevision | undefined, memory: LaneMemory, deps: StackPassDeps, finished: Finished): Promise<LaneOutcome> {
  const ops = finished.plan?.operations ?? [];
  const invalid = at !== undefined && at.errors.length > 0;
  const working = invalid ? memory.lastGood : at;
  // The counts the autoscaler chose are what status calls desired.
  const stackNow = working?.desired === undefined ? undefined : memory.scaled?.name === working.desired.name ? memory.scaled : working.desired;
  const desired: DesiredState = { revision: working?.revision ?? '', stacks: stackNow === undefined ? [] : [stackNow] };
  const facts = await deps.hooks?.facts(stack);
  const health = working?.desired === undefined ? undefined : assessServices(desired, finished.observed, facts, deps.now());
  const f: Finished = {
    ...finished,
    outcome: {
      ...finished.outcome, planned: ops.length, lines: ops.map(describeOperation), operations: ops.map(operationRecord), health,
      invalid: invalid ? { revision: at.revision, problems: at.errors.map((e) => e.format()) } : undefined,
    },
  };
  if (deps.report === undefined) return f.outcome;
  const specs = new Map((working?.desired?.services ?? []).map((s) => [s.name, { image: runningImage(s.spec.image, s.specHash, f.observed.containers.filter((c) => c.service === s.name)), specHash: s.specHash, dataDirs: dataDirsOf(s.stack, s.spec.volumes) }]));
  const gone = at === undefined && observedStacks(f.observed).length === 0;
  const input: StackInput = {
    stack,
    revision: at?.revision ?? working?.revision,
    outcome: statusOutcome(f),
    // What runs while changes wait is the previous revision: its services stay as last reported.
    services: f.outcome.reason === 'SyncWindowClosed' || health === undefined ? undefined : servicesOf(stack, health, specs),
    containers: f.observed.containers,
    converged: f.outcome.kind === 'converged' && !invalid,
    ...(f.releases === undefined || f.releases.length === 0 ? {} : { releases: f.releases.map((r) => ({ ...r, at: deps.now() })) }),
    ...(deps.autoscaleLimits === undefined ? {} : { scaling: deps.autoscaleLimits(stack) }),
  };
  const failures = f.outcome.failures.map(failureMessage);
  const rolledBack = f.outcome.failures.some((x) => x.error instanceof RolloutFailedError && x.error.end === 'rolled-back');
  await deps.report(stack, {
    outcome: f.outcome.kind,
    input,
    health,
    progress: f.outcome.progress,
    ...(f.outcome.failures.length > 0 && input.revision !== undefined && (rolledBack || f.outcome.reason === 'ApplyFailed') ? { failed: { revision: input.revision, messages: failures } } : {}),
    ...(gone ? { gone: true } : {}),
    ...(f.observed.swarm === undefined ? {} : { nodes: nodeStatuses(f.observed.swarm) }),
  });
  return f.outcome;
}

function statusOutcome(f: Finished): StatusOutcome {
  if (f.outcome.invalid !== undefined) return { kind: 'invalid', problems: f.outcome.invalid.problems };
  if (f.outcome.reason === 'SyncWindowClosed') return { kind: 'held', waiting: f.outcome.planned };
  const failures = f.outcome.failures.map(failureMessage);
  const rolledBack = f.outcome.failures.some((x) => x.error instanceof RolloutFailedError && x.error.end === 'rolled-back');
  const strategies = f.outcome.failures.flatMap((x) => (x.error instanceof RolloutFailedError ? [x.error.strategy] : []));
  const imagePulls = f.outcome.failures.filter((x) => x.error instanceof ImagePullError).map(failureMessage);
  if (failures.length > 0) return rolledBack ? { kind: 'rolled-back', failures, revert: undefined, reason: releaseReason(strategies) } : { kind: 'apply-failed', failures, ...(imagePulls.length > 0 ? { imagePulls } : {}) };
  const held = f.plan?.heldRollouts ?? [];
  if (held.length > 0) return { kind: 'rolled-back', failures: held.map(describeHeld), revert: undefined, reason: releaseReason(held.map((h) => h.strategy ?? 'rolling')) };
  return { kind: 'applied' };
}

/** Degraded's reason after a failed release: CanaryFailed or BlueGreenFailed when that is what failed, else RolledBack. */
function releaseReason(strategies: readonly string[]): 'RolledBack' | 'CanaryFailed' | 'BlueGreenFailed' {
  if (strategies.includes('canary')) return 'CanaryFailed';
  if (strategies.includes('blue-green')) return 'BlueGreenFailed';
  return 'RolledBack';
}

/** A failure as status words it: typed errors say it all, others with the operation's line. */
export function failureMessage(f: OperationFailure): string {
  return f.error instanceof RolloutFailedError || f.error instanceof ImagePullError ? f.error.message : `${f.line}: ${f.error.message}`;
}

/** Only this stack's objects, even from a backend that ignores the scope. */
function scoped(observed: ObservedState, stack: string): ObservedState {
  return {
    instance: observed.instance,
    containers: observed.containers.filter((c) => c.stack === stack),
    networks: observed.networks.filter((n) => n.stack === stack),
    volumes: observed.volumes.filter((v) => v.stack === stack),
    ...(observed.images === undefined ? {} : { images: observed.images }),
    // Nodes are the swarm's, not a stack's: every lane sees them all.
    ...(observed.swarm === undefined ? {} : { swarm: { ...observed.swarm, services: observed.swarm.services.filter((s) => s.stack === stack), files: observed.swarm.files.filter((f) => f.stack === stack) } }),
  };
}

/**
 * Replicas the rollouts in progress keep out of rotation: `retiring` ones (a
 * rolling update's drained old replicas) are no longer probed either; `held`
 * ones (a blue-green set not live, canaries being aborted) still are, so the
 * set a switch brings back is ready at once.
 */
export interface Rotation {
  retiring: readonly string[];
  held: readonly string[];
}

function outOfRotation(records: ReadonlyMap<string, RolloutRecord>, containers: readonly ObservedContainer[]): Rotation {
  const retiring: string[] = [];
  const held: string[] = [];
  for (const r of records.values()) (r.strategy === 'rolling' ? retiring : held).push(...heldOut(r, containers));
  return { retiring, held };
}

/** The stack with each autoscaled service at the count chosen for it; `running` counts its replicas, not twins or canaries. */
function withAutoscale(stack: DesiredStack, containers: readonly ObservedContainer[], autoscale: NonNullable<StackPassDeps['autoscale']>): DesiredStack {
  if (!stack.services.some((s) => s.spec.capstan.autoscale !== undefined)) return stack;
  const counts = autoscale(stack.name, stack.services.map((s) => ({
    name: s.name, spec: s.spec.capstan.autoscale, starting: s.spec.replicas,
    running: containers.filter((c) => c.service === s.name && c.name === replicaName(s, c.number)).length,
  })));
  return { ...stack, services: stack.services.map((s) => {
    const n = counts.get(s.name);
    return n === undefined || n === s.spec.replicas ? s : { ...s, spec: { ...s.spec, replicas: n } };
  }) };
}

/** The canary splits of the rollouts in progress, by service. */
function splitsOf(records: ReadonlyMap<string, RolloutRecord>): Map<string, TrafficSplit> {
  const out = new Map<string, TrafficSplit>();
  for (const [service, r] of records) {
    const split = splitOf(r);
    if (split !== undefined) out.set(service, split);
  }
  return out;
}

function sameRecords(a: ReadonlyMap<string, RolloutRecord>, b: ReadonlyMap<string, RolloutRecord>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => JSON.stringify(b.get(k)) === JSON.stringify(v));
}

function earliest(...times: (number | undefined)[]): number | undefined {
  const set = times.filter((t): t is number => t !== undefined);
  return set.length === 0 ? undefined : Math.min(...set);
}

/**
 * Running replicas whose spec declares x-capstan.probe. A replica on the
 * desired spec is probed as Git says now (a probe edit needs no new replica);
 * any other as it was made (its spec label): mid-rollout, old replicas must
 * not be judged by the new release's probe.
 */
export function probedReplicas(desired: DesiredStack | undefined, observed: readonly ObservedContainer[]): ProbedReplica[] {
  const services = new Map((desired?.services ?? []).map((s) => [s.name, s]));
  return observed.flatMap((c) => {
    const service = services.get(c.service);
    const probe = service !== undefined && service.specHash === c.specHash ? service.spec.capstan.probe : decodeSpecLabel(c.labels)?.capstan.probe;
    return probe === undefined || c.state !== 'running' ? [] : [{ containerId: c.id, name: c.name, stack: c.stack, service: c.service, ip: c.ip, probe }];
  });
}
