// Runs a plan against a backend: phases in order, operations of one phase in
// parallel up to a bound. The recreations of one service go together to the
// rolling-update driver (apply/rollout.ts); everything else is one engine
// step each, removals drained off the router first. A failed operation does
// not stop the others (one broken service must not hold back the rest);
// failures are collected and raised together as one ApplyError at the end.

import type { Backend, DeployContext } from '../backends/backend.js';
import { ApplyError } from '../errors.js';
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
}

export interface ApplyOutcome {
  applied: number;
  failed: readonly { operation: string; error: Error; stack: string }[];
}

type Unit = { kind: 'op'; op: Exclude<Operation, RecreateOp> } | { kind: 'rollout'; stack: string; ops: RecreateOp[] };

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
  const fail = (line: string, stack: string, kind: string, err: unknown): void => {
    const error = err instanceof Error ? err : new Error(String(err));
    failures.push({ operation: line, error, stack });
    opts.logger.error({ stack, op: kind, err: error }, `failed: ${line}`);
  };
  // A network or volume that could not be made (e.g. the name is another owner's) must not be joined or mounted anyway.
  const missingInfra = new Map<string, Error>();
  const blocked = (op: Operation): Error | undefined => {
    if (op.kind !== 'create-container' && op.kind !== 'recreate-container') return undefined;
    const names = [...Object.values(op.service.engineNames.networks), ...Object.values(op.service.engineNames.volumes)];
    return names.map((n) => missingInfra.get(n)).find((e) => e !== undefined);
  };
  // One line for the whole plan; rollouts and builds report their own.
  const total = plan.operations.length;
  let finished = 0;
  const progressed = (n: number): void => {
    finished += n;
    if (finished < total) ctx.progress?.update('apply', `${finished}/${total} operations`, finished / total);
  };
  ctx.progress?.update('apply', `0/${total} operations`, 0);
  for (const phase of phasesOf(plan.operations)) {
    await forEachBounded(unitsOf(phase), opts.parallelism, async (unit) => {
      if (unit.kind === 'rollout') {
        const first = unit.ops[0] as RecreateOp;
        const line = `rolling update of ${first.stack}/${first.service.name}`;
        const missing = blocked(first);
        if (missing !== undefined) return fail(line, unit.stack, first.kind, missing);
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
      const missing = blocked(op);
      if (missing !== undefined) return fail(line, op.stack, op.kind, missing);
      try {
        await ready(op);
        await execute(op, backend, ctx, opts.rollout.traffic);
        applied++;
        opts.logger.info({ stack: op.stack, op: op.kind }, line);
      } catch (err) {
        if (op.kind === 'create-network') missingInfra.set(op.network.engineName, err instanceof Error ? err : new Error(String(err)));
        if (op.kind === 'create-volume') missingInfra.set(op.volume.engineName, err instanceof Error ? err : new Error(String(err)));
        fail(line, op.stack, op.kind, err);
      }
      progressed(1);
    });
  }
  ctx.progress?.done('apply', `${applied}/${total} operations applied${failures.length === 0 ? '' : `, ${failures.length} failed`}`, failures.length === 0);
  return { applied, failed: failures };
}

/** A phase's operations as units of work: each service's recreations become one rollout. */
function unitsOf(phase: readonly Operation[]): Unit[] {
  const units: Unit[] = [];
  const rollouts = new Map<string, RecreateOp[]>();
  for (const op of phase) {
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

/** Like applyPlan, but a pass with any failure is an error (the CLI's `apply` contract). */
export async function applyPlanOrThrow(plan: Plan, backend: Backend, ctx: DeployContext, opts: ApplyOptions): Promise<number> {
  const outcome = await applyPlan(plan, backend, ctx, opts);
  if (outcome.failed.length > 0) throw new ApplyError(outcome.failed, ctx.revision);
  return outcome.applied;
}

async function execute(op: Exclude<Operation, RecreateOp>, backend: Backend, ctx: DeployContext, traffic: Traffic): Promise<void> {
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
