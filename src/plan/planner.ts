// The planner: a pure function from desired + observed to an ordered plan
// (Compose's plan.go idea). It reads no clock and does no I/O, so the same
// inputs always give the same plan, and plans are tested as golden text.
//
// One planner for every backend: the service-level diff (targets.ts: which
// services at which spec, held rollouts, orphans, networks) is shared; an
// Expansion turns each service into the backend's own operations (containers
// on one engine, services on Swarm).

import { posix } from 'node:path';
import type { DesiredService, DesiredState } from '../desired/model.js';
import type { ObservedState } from '../observed/model.js';
import { holds, type HeldRollout } from '../strategies/rolling.js';
import { containerExpansion, type HealingInput } from './containers.js';
import type { EngineRollout, HeldBack, Operation, OperationDraft as Draft, Plan, ServiceChange } from './operations.js';
import { operationTarget } from './render.js';
import { orphanCause, PHASE_CLEANUP, PHASE_INFRA, serviceTargets, usedNetworks, type ServiceTarget } from './targets.js';

export type { HealingInput } from './containers.js';

/** What a backend adds to the shared diff: its operations for each service. */
export interface Expansion {
  /** Operations for a stack's own objects besides networks (volumes on one engine; secrets and configs on Swarm). */
  stackInfra(stack: DesiredState['stacks'][number], emit: (op: Draft) => void): void;
  /** Operations bringing one service to its target, and the summary line. `stackDir`: the stack file's directory, for bind sources in causes. */
  service(target: ServiceTarget, stackDir: string, emit: (op: Draft) => void): ServiceChange;
  /** The owned services the snapshot shows, by stack and name (in a stable order). */
  observedServices(): readonly { stack: string; service: string }[];
  /** Operations removing an owned service Git no longer has. */
  remove(stack: string, service: string, stackGone: boolean, cause: string, emit: (op: Draft) => void): ServiceChange;
  /** Objects nothing desired uses any more, removed after every service changed (Swarm's secrets and configs). */
  cleanup(desired: DesiredState, emit: (op: Draft) => void): void;
  /** Image pulls the operations need (the docker engine's; Swarm's nodes pull for themselves). */
  pulls(desired: DesiredState, operations: readonly Draft[]): Draft[];
  /** Restarts postponed by crash-loop backoff (the docker engine's healing). */
  heldBack(): readonly HeldBack[];
  /** Rolling updates the engine itself carries out (Swarm's), seen in the snapshot. */
  engineRollouts(): readonly EngineRollout[];
}

/**
 * `held`: rollouts that failed before (from the driver's record); a service
 * still at that revision and spec is kept at what it was restored to.
 */
export function planWith(expansion: Expansion, desired: DesiredState, observed: ObservedState, held: readonly HeldRollout[] = []): Plan {
  const operations: Draft[] = [];
  const services: ServiceChange[] = [];
  const heldRollouts: HeldRollout[] = [];
  const emit = (op: Draft): void => void operations.push(op);
  const holding = (service: DesiredService): HeldRollout | undefined => {
    const h = held.find((x) => x.stack === service.stack && x.service === service.name && holds(x, desired.revision, service.specHash));
    if (h !== undefined) heldRollouts.push(h);
    return h;
  };

  for (const stack of desired.stacks) {
    for (const network of usedNetworks(stack)) {
      if (observed.networks.some((n) => n.name === network.engineName)) continue;
      emit({ kind: 'create-network', stack: stack.name, network, phase: PHASE_INFRA, reason: 'network-missing', cause: `network ${network.engineName} does not exist` });
    }
    expansion.stackInfra(stack, emit);
    const stackDir = posix.dirname(stack.file);
    for (const target of serviceTargets(stack, holding)) services.push(expansion.service(target, stackDir, emit));
  }
  for (const { stack, service } of expansion.observedServices()) {
    const cause = orphanCause(desired, stack, service);
    if (cause !== undefined) services.push(expansion.remove(stack, service, !desired.stacks.some((s) => s.name === stack), cause, emit));
  }
  // First in their phase, so a plan reads "pull, then create".
  operations.unshift(...expansion.pulls(desired, operations));
  for (const network of observed.networks) {
    const stack = desired.stacks.find((s) => s.name === network.stack);
    if (stack !== undefined && usedNetworks(stack).some((n) => n.engineName === network.name)) continue;
    emit({
      kind: 'remove-network', stack: network.stack, name: network.name, networkId: network.id, phase: PHASE_CLEANUP,
      reason: stack !== undefined ? 'network-unused' : 'stack-removed',
      cause: stack !== undefined ? `no service of stack ${network.stack} uses it` : `stack ${network.stack} is no longer in Git`,
    });
  }
  expansion.cleanup(desired, emit);

  const engineRollouts = expansion.engineRollouts();
  return {
    revision: desired.revision, instance: observed.instance, operations: sortOperations(operations), services, heldBack: expansion.heldBack(), heldRollouts,
    ...(engineRollouts.length === 0 ? {} : { engineRollouts }),
  };
}

/** The docker engine backend's plan: containers, networks and volumes of one engine. */
export function planChanges(desired: DesiredState, observed: ObservedState, healing?: HealingInput, held: readonly HeldRollout[] = []): Plan {
  return planWith(containerExpansion(observed, healing), desired, observed, held);
}

/** Stable order: by phase, then stack, then the order the planner produced (services in dependency order, slots ascending). */
function sortOperations(operations: Draft[]): Operation[] {
  return operations
    .map((op, i) => ({ op, i }))
    .sort((a, b) => a.op.phase - b.op.phase || a.op.stack.localeCompare(b.op.stack) || a.i - b.i)
    .map(({ op }) => {
      const withId = { ...op, id: '' } as Operation;
      return { ...withId, id: `${op.kind}:${op.stack}/${operationTarget(withId)}` } as Operation;
    });
}
