// Runs a plan against a backend: image pulls at once (bounded by the
// backend), each service waiting for its own image only; then phases in
// order, operations of one phase in parallel up to a bound. The recreations of one service go together to the
// rolling-update driver (apply/rollout.ts); everything else is one engine
// step each, removals drained off the router first. A failed operation does
// not stop the others (one broken service must not hold back the rest);
// failures are collected and returned together at the end, except that a
// stack whose network or volume failed gets none of its later operations.

import type { Backend, DeployContext } from '../backends/backend.js';
import type { DesiredService } from '../desired/model.js';
import { CapstanError, ImagePullError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Operation, Plan } from '../plan/operations.js';
import { describeOperation } from '../plan/render.js';
import { waitForDependencies } from './dependencies.js';
import { DEFAULT_GRACE_MS, rollService, type RecreateOp, type RolloutSupport } from './rollout.js';
import type { Traffic } from './traffic.js';

export interface ApplyOptions {
  parallelism: number;
  logger: Logger;
  rollout: RolloutSupport;
  /** True for a failure already reported by an earlier pass: logged at debug, so a stack failing the same way is not a wall of errors every pass. */
  repeated?: (stack: string, operation: string, error: Error) => boolean;
}

export interface ApplyOutcome {
  applied: number;
  failed: readonly { operation: string; error: Error; stack: string }[];
}

type PullOp = Extract<Operation, { kind: 'pull-image' }>;
type Unit = { kind: 'op'; op: Exclude<Operation, RecreateOp | PullOp> } | { kind: 'rollout'; stack: string; ops: RecreateOp[] };

export async function applyPlan(plan: Plan, backend: Backend, ctx: DeployContext, opts: ApplyOptions): Promise<ApplyOutcome> {
  const failures: { operation: string; error: Error; stack: string }[] = [];
  let applied = 0;
  // One wait per service and pass, shared by its replicas' operations.
  const waits = new Map<string, Promise<void>>();
  const ready = (op: Operation): Promise<void> => {
    if (op.kind !== 'create-container' && op.kind !== 'recreate-container') return Promise.resolve();
    const key = `${op.stack}/${op.service.name}`;
    let wait = waits.get(key);
    if (wait === undefined) waits.set(key, (wait = waitForDependencies(op.service, backend, { instance: ctx.instance })));
    return wait;
  };
  // A stack whose network or volume could not be made cannot have its containers either: one failure, not one per replica.
  const blocked = new Set<string>();
  const fail = (line: string, stack: string, kind: string, err: unknown): void => {
    const error = err instanceof Error ? err : new Error(String(err));
    failures.push({ operation: line, error, stack });
    if (kind === 'create-network' || kind === 'create-volume') blocked.add(stack);
    const fields = { stack, op: kind, ...(error instanceof ImagePullError ? { image: error.image, registry: error.registry } : {}), ...(error instanceof CapstanError ? { code: error.code, hint: error.hint } : { err: error }) };
    if (opts.repeated?.(stack, line, error) === true) opts.logger.debug(fields, `still failing: ${line}: ${error.message}`);
    else opts.logger.error(fields, `failed: ${line}: ${error.message}`);
  };
  // One line for the whole plan; rollouts and builds report their own.
  const total = plan.operations.length;
  let finished = 0;
  const progressed = (n: number): void => {
    finished += n;
    if (finished < total) ctx.progress?.update('apply', `${finished}/${total} operations`, finished / total);
  };
  ctx.progress?.update('apply', `0/${total} operations`, 0);
  // Pulls start at once, bounded by the backend; each service waits for its own image only, so
  // nothing of a service whose image cannot be pulled is touched (no twin is started).
  const pulls = new Map<string, { op: PullOp; done: Promise<Error | undefined>; reported: boolean }>();
  for (const op of plan.operations) {
    if (op.kind !== 'pull-image') continue;
    const pull = backend.pullImage?.(op.image, ctx) ?? Promise.reject(new Error(`this backend cannot pull ${op.image}`));
    const done = pull.then(() => undefined, (err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    pulls.set(op.image, { op, reported: false, done: done.finally(() => progressed(1)) });
  }
  const pulled = async (service: DesiredService): Promise<void> => {
    const pull = pulls.get(service.spec.image);
    const error = pull === undefined ? undefined : await pull.done;
    if (pull === undefined || error === undefined) return;
    pull.reported = true;
    throw error instanceof ImagePullError ? error.forService(service.stack, service.name) : error;
  };
  // One failure per service for an image it could not get, however many replicas wait for it.
  const pullFailed = new Set<string>();
  const failOrSkip = (line: string, stack: string, kind: string, service: DesiredService, err: unknown): void => {
    const key = `${service.stack}/${service.name}`;
    if (err instanceof ImagePullError) {
      if (pullFailed.has(key)) return;
      pullFailed.add(key);
    }
    fail(line, stack, kind, err);
  };
  for (const phase of phasesOf(plan.operations)) {
    const units = unitsOf(phase).filter((u) => !blocked.has(u.kind === 'op' ? u.op.stack : u.stack));
    await forEachBounded(units, opts.parallelism, async (unit) => {
      if (unit.kind === 'rollout') {
        const first = unit.ops[0] as RecreateOp;
        const line = `rolling update of ${first.stack}/${first.service.name}`;
        try {
          await pulled(first.service);
        } catch (err) {
          failOrSkip(line, unit.stack, first.kind, first.service, err);
          progressed(unit.ops.length);
          return;
        }
        try {
          await ready(first);
          const result = await rollService(unit.ops, { backend, ctx, logger: opts.logger, ...opts.rollout });
          applied += result.updated;
          if (result.failure !== undefined) fail(line, unit.stack, first.kind, result.failure);
        } catch (err) {
          fail(line, unit.stack, first.kind, err);
        }
        progressed(unit.ops.length);
        return;
      }
      const { op } = unit;
      const line = describeOperation(op);
      try {
        if (op.kind === 'create-container') await pulled(op.service);
        await ready(op);
        await execute(op, backend, ctx, opts.rollout.traffic);
        applied++;
        opts.logger.info({ stack: op.stack, op: op.kind }, line);
      } catch (err) {
        if (op.kind === 'create-container') failOrSkip(line, op.stack, op.kind, op.service, err);
        else fail(line, op.stack, op.kind, err);
      }
      progressed(1);
    });
  }
  for (const pull of pulls.values()) {
    const error = await pull.done;
    if (error === undefined) applied++;
    // A pull no service waited for (a moved tag with nothing to roll) still reports its failure.
    else if (!pull.reported) fail(describeOperation(pull.op), pull.op.stack, pull.op.kind, error);
  }
  ctx.progress?.done('apply', `${applied}/${total} operations applied${failures.length === 0 ? '' : `, ${failures.length} failed`}`, failures.length === 0);
  return { applied, failed: failures };
}

/** A phase's operations as units of work: each service's recreations become one rollout. */
function unitsOf(phase: readonly Operation[]): Unit[] {
  const units: Unit[] = [];
  const rollouts = new Map<string, RecreateOp[]>();
  for (const op of phase) {
    if (op.kind === 'pull-image') continue;
    if (op.kind !== 'recreate-container') {
      units.push({ kind: 'op', op });
      continue;
    }
    const key = `${op.stack}\u0000${op.service.name}`;
    const list = rollouts.get(key);
    if (list !== undefined) list.push(op);
    else {
      const ops = [op];
      rollouts.set(key, ops);
      units.push({ kind: 'rollout', stack: op.stack, ops });
    }
  }
  return units;
}

async function execute(op: Exclude<Operation, RecreateOp | PullOp>, backend: Backend, ctx: DeployContext, traffic: Traffic): Promise<void> {
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
