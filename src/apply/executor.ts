// Runs a plan against a backend: phases in order, operations of one phase in
// parallel up to a bound. A failed operation does not stop the others (one
// broken service must not hold back the rest); failures are collected and
// raised together as one ApplyError at the end.

import type { Backend, DeployContext } from '../backends/backend.js';
import { ApplyError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Operation, Plan } from '../plan/operations.js';
import { describeOperation } from '../plan/render.js';
import { waitForDependencies } from './dependencies.js';

export interface ApplyOptions {
  parallelism: number;
  logger: Logger;
}

export interface ApplyOutcome {
  applied: number;
  failed: readonly { operation: string; error: Error; stack: string }[];
}

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
  for (const phase of phasesOf(plan.operations)) {
    await forEachBounded(phase, opts.parallelism, async (op) => {
      const line = describeOperation(op);
      try {
        await ready(op);
        await execute(op, backend, ctx);
        applied++;
        opts.logger.info({ stack: op.stack, op: op.kind }, line);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        failures.push({ operation: line, error, stack: op.stack });
        opts.logger.error({ stack: op.stack, op: op.kind, err: error }, `failed: ${line}`);
      }
    });
  }
  return { applied, failed: failures };
}

/** Like applyPlan, but a pass with any failure is an error (the CLI's `apply` contract). */
export async function applyPlanOrThrow(plan: Plan, backend: Backend, ctx: DeployContext, opts: ApplyOptions): Promise<number> {
  const outcome = await applyPlan(plan, backend, ctx, opts);
  if (outcome.failed.length > 0) throw new ApplyError(outcome.failed, ctx.revision);
  return outcome.applied;
}

async function execute(op: Operation, backend: Backend, ctx: DeployContext): Promise<void> {
  switch (op.kind) {
    case 'create-network': return backend.createNetwork(op.stack, op.network, ctx);
    case 'create-volume': return backend.createVolume(op.stack, op.volume, ctx);
    case 'create-container': await backend.createContainer(op.service, op.number, ctx); return;
    case 'recreate-container': await backend.recreateContainer(op.service, op.number, op.containerId, ctx); return;
    case 'start-container': return backend.startContainer(op.containerId);
    case 'remove-container': return backend.removeContainer(op.containerId);
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
