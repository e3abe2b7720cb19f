// Runs one stack's plan for one lane pass: phases in order, the operations
// of a phase side by side up to a bound; each is one engine call (removals
// drained off the router first). A service's recreations are its rollout,
// advanced by one step (apply/rollout.ts); rollouts already under way step
// even when the plan has nothing left for them. depends_on conditions are
// read from the pass's snapshot: an unmet one postpones the dependent to a
// later pass (the lane wakes on the dependency's events), never holds this
// one. A failed operation does not stop the others; every failure is kept,
// typed by the operation's id and reason.

import type { Backend, DeployContext } from '../backends/backend.js';
import type { DesiredService, DesiredStack } from '../desired/model.js';
import { DependencyTimeoutError, type RolloutFailedError } from '../errors.js';
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

export interface ApplyOptions {
  parallelism: number;
  logger: Logger;
  rollout: RolloutSupport;
}

/** One operation (or a rollout) that failed, by value. */
export interface OperationFailure {
  /** The operation's id, or `rollout:<stack>/<service>`. */
  id: string;
  reason: OperationReason | 'rollout';
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
  const result: StackApplyResult = { applied: 0, done: [], failures: [], records: new Map(), superseded: [], progress: [], finished: 0, waiting: [], wakeAt: undefined, commands: new Map(), outcomes: [] };
  const wake = (at: number | undefined): void => {
    if (at !== undefined) result.wakeAt = Math.min(result.wakeAt ?? at, at);
  };
  const now = opts.rollout.now();
  const services = new Map((input.desired?.services ?? []).map((s) => [s.name, s]));
  // The target a held rollout restores is the recreate operations' service; Git's otherwise.
  const recreates = new Map<string, RecreateOp[]>();
  for (const op of plan.operations) if (op.kind === 'recreate-container') recreates.set(op.service.name, [...(recreates.get(op.service.name) ?? []), op]);

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
      if (r.failure !== undefined) result.failures.push(rolloutFailure(r.failure));
    } catch (err) {
      // A step that threw (the engine went away mid-step) keeps its record: the next pass looks again.
      if (record !== undefined) result.records.set(name, record);
      const error = err instanceof Error ? err : new Error(String(err));
      opts.logger.error({ stack: plan.operations[0]?.stack, service: name, err: error }, `rollout step of ${name} failed: ${error.message}`);
      result.failures.push({ id: `rollout:${target?.stack ?? ''}/${name}`, reason: 'rollout', stack: target?.stack ?? '', service: name, line: `rolling update of ${name}`, error });
    }
  };

  for (const phase of phasesOf(plan.operations)) {
    await forEachBounded(phase, opts.parallelism, async (op) => {
      if (op.kind === 'recreate-container') return stepRollout(op.service.name);
      if (ownedByRollout(op, input.records, observed)) return;
      if (op.kind === 'create-container' && !dependenciesMet(op.service)) return;
      const line = describeOperation(op);
      try {
        await execute(op, backend, ctx, opts.rollout);
        result.applied++;
        result.done.push(op.id);
        opts.logger.info({ stack: op.stack, op: op.kind, reason: op.reason }, line);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        result.failures.push({ id: op.id, reason: op.reason, stack: op.stack, service: serviceOf(op) ?? undefined, line, error });
        opts.logger.error({ stack: op.stack, op: op.kind, reason: op.reason, err: error }, `failed: ${line}`);
      }
    });
  }
  // Rollouts under way whose service the plan no longer touches still have steps to take (monitor, retire); a command names its service.
  await forEachBounded([...new Set([...input.records.keys(), ...(input.commands?.keys() ?? [])])], opts.parallelism, stepRollout);
  return result;
}

function rolloutFailure(error: RolloutFailedError): OperationFailure {
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

async function execute(op: Exclude<Operation, RecreateOp>, backend: Backend, ctx: DeployContext, support: Pick<RolloutSupport, 'traffic' | 'removing'>): Promise<void> {
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
  }
}

function phasesOf(operations: readonly Operation[]): Operation[][] {
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
