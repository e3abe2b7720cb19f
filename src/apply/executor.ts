// Runs one stack's plan for one lane pass: image pulls at once (bounded by
// the backend), each service waiting for its own image only; then phases in
// order, the operations of a phase side by side up to a bound, each one
// engine call (removals drained off the router first). A service's
// recreations are its rollout, advanced by one step (apply/rollout.ts);
// rollouts already under way step even when the plan has nothing left for
// them. depends_on conditions are read from the pass's snapshot: an unmet one
// postpones the dependent to a later pass (the lane wakes on the
// dependency's events), never holds this one. A failed operation does not
// stop the others, except that a network or volume that could not be made
// stops the stack's later phases; every failure is kept, typed by the
// operation's id and reason.

import type { Backend, DeployContext } from '../backends/backend.js';
import type { DesiredService, DesiredStack } from '../desired/model.js';
import { CapstanError, DependencyTimeoutError, ImagePullError, type RolloutFailedError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer } from '../observed/model.js';
import type { Operation, OperationReason, Plan } from '../plan/operations.js';
import { describeOperation, serviceOf } from '../plan/render.js';
import type { RolloutCommand } from '../strategies/canary.js';
import { ownsSlot, type RolloutRecord } from '../strategies/record.js';
import type { RolloutProgress } from '../strategies/step.js';
import { unmetReason } from './dependencies.js';
import { DEFAULT_GRACE_MS, stepServiceRollout, type RecreateOp, type ReleaseOutcome, type RolloutSupport } from './rollout.js';
import type { Traffic } from './traffic.js';

type PullOp = Extract<Operation, { kind: 'pull-image' }>;

export interface ApplyOptions {
  parallelism: number;
  logger: Logger;
  rollout: RolloutSupport;
  /** True for a failure already reported by an earlier pass: logged at debug, so a stack failing the same way is not a wall of errors every pass. */
  repeated?: (stack: string, operation: string, error: Error) => boolean;
}

/** One operation (or a rollout) that failed, by value. */
export interface OperationFailure {
  /** The operation's id, or `rollout:<stack>/<service>`. */
  id: string;
  /** `waiting`: a failure a stack backing off still stands for (stack-backoff.ts). */
  reason: OperationReason | 'rollout' | 'waiting';
  stack: string;
  service: string | undefined;
  /** For people: the operation's line, or the rollout's. */
  line: string;
  error: Error;
}

export interface StackApplyInput {
  plan: Plan;
  /** The stack as it should run (undefined when it left Git); rollouts take their targets from it. */
  desired: DesiredStack | undefined;
  /** The stack's containers in the pass's snapshot. */
  observed: readonly ObservedContainer[];
  /** Rollouts in progress, by service. */
  records: ReadonlyMap<string, RolloutRecord>;
  /** When each service began waiting for its depends_on (ms), kept by the lane between passes. */
  dependencyWaits: Map<string, number>;
  /** `capstan promote|abort`, by service, for this pass's step of its rollout. */
  commands?: ReadonlyMap<string, RolloutCommand>;
}

export interface StackApplyResult {
  /** Operations done (one engine call each); rollouts count the slots they moved. */
  applied: number;
  /** Ids of the operations done. */
  done: string[];
  failures: OperationFailure[];
  /** Rollouts to keep, by service. */
  records: Map<string, RolloutRecord>;
  superseded: RolloutRecord[];
  progress: RolloutProgress[];
  /** Rollouts that finished this pass (with or without a failure). */
  finished: number;
  /** Services postponed for their depends_on, with why. */
  waiting: string[];
  /** Rolling updates the engine carries out by itself (Swarm's), still under way. */
  underway: number;
  wakeAt: number | undefined;
  /** What became of each command, by service. */
  commands: Map<string, { done: boolean; message: string }>;
  /** Canary and blue-green releases that ended this pass. */
  outcomes: ReleaseOutcome[];
}

/** How often a dependent looks again when no event about its dependency arrives. */
const DEPENDENCY_POLL_MS = 1000;

export async function applyStackPlan(input: StackApplyInput, backend: Backend, ctx: DeployContext, opts: ApplyOptions): Promise<StackApplyResult> {
  const { plan, observed } = input;
  const result: StackApplyResult = { applied: 0, done: [], failures: [], records: new Map(), superseded: [], progress: [], finished: 0, waiting: [], underway: 0, wakeAt: undefined, commands: new Map(), outcomes: [] };
  const wake = (at: number | undefined): void => {
    if (at !== undefined) result.wakeAt = Math.min(result.wakeAt ?? at, at);
  };
  const now = opts.rollout.now();
  const services = new Map((input.desired?.services ?? []).map((s) => [s.name, s]));
  // The target a held rollout restores is the recreate operations' service; Git's otherwise.
  const recreates = new Map<string, RecreateOp[]>();
  for (const op of plan.operations) if (op.kind === 'recreate-container') recreates.set(op.service.name, [...(recreates.get(op.service.name) ?? []), op]);

  const fail = failureRecorder(result, opts);

  // Pulls start at once; a service waits for its own image only, so nothing of a service whose image cannot be pulled is touched (no twin is started).
  const pulls = new Map<string, { op: PullOp; done: Promise<Error | undefined>; reported: boolean }>();
  for (const op of plan.operations) {
    if (op.kind !== 'pull-image') continue;
    const pull = backend.pullImage?.(op.image, ctx) ?? Promise.reject(new Error(`this backend cannot pull ${op.image}`));
    pulls.set(op.image, { op, reported: false, done: pull.then(() => undefined, (err: unknown) => (err instanceof Error ? err : new Error(String(err)))) });
  }
  const pullFailed = new Set<string>();
  /** Whether the service's image is there; one failure per service for an image it could not get, however many replicas wait for it. */
  const pulled = async (service: DesiredService, id: string, reason: OperationFailure['reason'], line: string): Promise<boolean> => {
    const pull = pulls.get(service.spec.image);
    const error = pull === undefined ? undefined : await pull.done;
    if (pull === undefined || error === undefined) return true;
    pull.reported = true;
    if (!pullFailed.has(service.name)) {
      pullFailed.add(service.name);
      fail({ id, reason, stack: service.stack, service: service.name, line, error: error instanceof ImagePullError ? error.forService(service.stack, service.name) : error }, 'pull-image');
    }
    return false;
  };

  const blocked = new Set<string>();
  const dependenciesMet = (service: DesiredService): boolean => {
    if (blocked.has(service.name)) return false;
    const unmet = Object.entries(service.spec.dependsOn)
      .filter(([, c]) => c !== 'service_started')
      .map(([dep, condition]) => ({ dep, condition, why: unmetReason(observed.filter((c) => c.service === dep), condition) }))
      .find((u) => u.why !== undefined);
    if (unmet === undefined) {
      input.dependencyWaits.delete(service.name);
      return true;
    }
    blocked.add(service.name);
    const since = input.dependencyWaits.get(service.name) ?? now;
    input.dependencyWaits.set(service.name, since);
    const deadline = since + service.spec.capstan.progressDeadlineMs;
    if (now >= deadline) {
      const error = new DependencyTimeoutError(service.stack, service.name, unmet.dep, unmet.condition, service.spec.capstan.progressDeadlineMs, unmet.why ?? '');
      result.failures.push({ id: `depends-on:${service.stack}/${service.name}`, reason: 'new-service', stack: service.stack, service: service.name, line: `start ${service.stack}/${service.name}`, error });
      opts.logger.error({ stack: service.stack, service: service.name, code: error.code }, error.message);
      input.dependencyWaits.delete(service.name);
    } else {
      result.waiting.push(`${service.name} waits for ${unmet.dep}: ${unmet.why ?? ''}`);
      wake(Math.min(deadline, now + DEPENDENCY_POLL_MS));
    }
    return false;
  };

  const rolloutDeps = { ...opts.rollout, backend, ctx, logger: opts.logger };

  const stepped = new Set<string>();
  const stepRollout = async (name: string): Promise<void> => {
    if (stepped.has(name)) return;
    stepped.add(name);
    const ops = recreates.get(name) ?? [];
    const target = ops[0]?.service ?? services.get(name);
    const record = input.records.get(name);
    if (record === undefined && target !== undefined && ops.length > 0 && !dependenciesMet(target)) return;
    if (record === undefined && target !== undefined && ops.length > 0 && !(await pulled(target, `rollout:${target.stack}/${name}`, 'rollout', `rolling update of ${target.stack}/${name}`))) return;
    try {
      const command = input.commands?.get(name);
      const r = await stepServiceRollout({ ops, target, record, observed, ...(command === undefined ? {} : { command }) }, rolloutDeps);
      if (r.command !== undefined) result.commands.set(name, r.command);
      if (r.outcome !== undefined) result.outcomes.push(r.outcome);
      if (r.superseded !== undefined) result.superseded.push(r.superseded);
      if (r.record !== undefined) result.records.set(name, r.record);
      if (r.progress !== undefined) result.progress.push(r.progress);
      if (r.state === 'ended') result.finished++;
      result.applied += r.moved;
      wake(r.wakeAt);
      if (r.failure !== undefined) fail(rolloutFailure(r.failure), 'rollout');
    } catch (err) {
      // A step that threw (the engine went away mid-step) keeps its record: the next pass looks again.
      if (record !== undefined) result.records.set(name, record);
      const error = err instanceof Error ? err : new Error(String(err));
      fail({ id: `rollout:${target?.stack ?? ''}/${name}`, reason: 'rollout', stack: target?.stack ?? '', service: name, line: `rolling update of ${name}`, error }, 'rollout');
    }
  };

  // A network or volume that could not be made leaves the stack's later phases undone: one failure, not one per replica.
  let stackBlocked = false;
  for (const phase of phasesOf(plan.operations.filter((o) => o.kind !== 'pull-image'))) {
    if (stackBlocked) break;
    await forEachBounded(phase, opts.parallelism, async (op) => {
      if (op.kind === 'pull-image') return;
      if (op.kind === 'recreate-container') return stepRollout(op.service.name);
      if (ownedByRollout(op, input.records, observed)) return;
      if (op.kind === 'create-container' && !dependenciesMet(op.service)) return;
      const line = describeOperation(op);
      if (op.kind === 'create-container' && !(await pulled(op.service, op.id, op.reason, line))) return;
      try {
        await execute(op, backend, ctx, opts.rollout);
        result.applied++;
        result.done.push(op.id);
        opts.logger.info({ stack: op.stack, op: op.kind, reason: op.reason }, line);
      } catch (err) {
        if (op.kind === 'create-network' || op.kind === 'create-volume') stackBlocked = true;
        fail({ id: op.id, reason: op.reason, stack: op.stack, service: serviceOf(op) ?? undefined, line, error: err instanceof Error ? err : new Error(String(err)) }, op.kind);
      }
    });
  }
  // Rollouts under way whose service the plan no longer touches still have steps to take (monitor, retire); a command names its service.
  if (!stackBlocked) await forEachBounded([...new Set([...input.records.keys(), ...(input.commands?.keys() ?? [])])], opts.parallelism, stepRollout);
  for (const pull of pulls.values()) {
    const error = await pull.done;
    if (error === undefined) {
      result.applied++;
      result.done.push(pull.op.id);
    } else if (!pull.reported) {
      // A pull no service waited for (a moved tag with nothing to roll) still reports its failure.
      fail({ id: pull.op.id, reason: pull.op.reason, stack: pull.op.stack, service: undefined, line: describeOperation(pull.op), error }, pull.op.kind);
    }
  }
  return result;
}

/** Keeps a failure and logs it: typed errors with their code and hint, a failure an earlier pass reported already at debug. */
export function failureRecorder(result: Pick<StackApplyResult, 'failures'>, opts: ApplyOptions): (f: OperationFailure, kind: string) => void {
  return (f, kind) => {
    result.failures.push(f);
    const e = f.error;
    const fields = { stack: f.stack, op: kind, reason: f.reason, ...(e instanceof ImagePullError ? { image: e.image, registry: e.registry } : {}), ...(e instanceof CapstanError ? { code: e.code, hint: e.hint } : { err: e }) };
    if (opts.repeated?.(f.stack, f.line, e) === true) opts.logger.debug(fields, `still failing: ${f.line}: ${e.message}`);
    else opts.logger.error(fields, `failed: ${f.line}: ${e.message}`);
  };
}

export function rolloutFailure(error: RolloutFailedError): OperationFailure {
  return { id: `rollout:${error.stackName}/${error.service}`, reason: 'rollout', stack: error.stackName, service: error.service, line: `rolling update of ${error.stackName}/${error.service}`, error };
}

/** A promotion of a slot a rollout is moving is the rollout's own last step, and so is retiring its canaries. */
function ownedByRollout(op: Operation, records: ReadonlyMap<string, RolloutRecord>, observed: readonly ObservedContainer[]): boolean {
  if (op.kind !== 'promote-container' && !(op.kind === 'remove-container' && op.reason === 'leftover-canary')) return false;
  const record = records.get(op.service);
  const number = observed.find((c) => c.id === op.containerId)?.number;
  if (record === undefined || number === undefined) return false;
  return op.kind === 'remove-container' ? record.strategy === 'canary' : ownsSlot(record, number);
}

async function execute(op: Exclude<Operation, RecreateOp | PullOp>, backend: Backend, ctx: DeployContext, support: Pick<RolloutSupport, 'traffic' | 'removing'>): Promise<void> {
  const traffic: Traffic = support.traffic;
  switch (op.kind) {
    case 'create-network': return backend.createNetwork(op.stack, op.network, ctx);
    case 'create-volume': return backend.createVolume(op.stack, op.volume, ctx);
    case 'create-container': await backend.createContainer(op.service, op.number, ctx); return;
    case 'start-container': return backend.startContainer(op.containerId);
    case 'promote-container':
      await backend.renameContainer(op.containerId, op.name);
      return traffic.renamed(op.containerId, op.name);
    case 'remove-container':
      // Scale-down, prune, leftovers: no new requests, in-flight ones finish, then the stop signal.
      support.removing?.(op.containerId);
      await traffic.retire(op.containerId, DEFAULT_GRACE_MS);
      return backend.removeContainer(op.containerId);
    case 'remove-network': return backend.removeNetwork(op.networkId);
    default:
      // The docker backend plans none of Swarm's operations (plan/containers.ts).
      throw new Error(`the docker engine backend cannot ${op.kind}`);
  }
}

/** Operations grouped by phase, lowest first. */
export function phasesOf(operations: readonly Operation[]): Operation[][] {
  const byPhase = new Map<number, Operation[]>();
  for (const op of operations) {
    const list = byPhase.get(op.phase);
    if (list === undefined) byPhase.set(op.phase, [op]);
    else list.push(op);
  }
  return [...byPhase.entries()].sort(([a], [b]) => a - b).map(([, ops]) => ops);
}

/** Run `fn` over items with at most `limit` in flight. */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
