// The port each stack's lane talks to (DESIGN §7): observe the cluster, plan
// operations, apply them one lane pass at a time. Two implementations:
// `docker` (one engine; Capstan runs replicas, rollouts, health) and `swarm`
// (Swarm's services API; Swarm runs them). Both plan with the one shared
// planner (plan/planner.ts) and differ only in how a service becomes
// operations and how those reach the engine.

import type { ApplyOptions, StackApplyInput, StackApplyResult } from './executor.js';
import type { DesiredState } from '../desired/model.js';
import type { ObservedState } from '../observed/model.js';
import type { Plan } from '../plan/operations.js';
import type { HealingInput } from '../plan/planner.js';
import type { HeldRollout } from '../strategies/rolling.js';
import type { Backend, DeployContext } from '../backends/backend.js';

export interface PlanInputs {
  /** Rollouts that failed before (the hold record); empty with `apply --force`. */
  held: readonly HeldRollout[];
  /** The daemon's crash-loop input; one-shot commands pass none. */
  healing?: HealingInput | undefined;
  /** `apply --force`: what failed before is tried again. */
  force?: boolean;
}

export interface BackendPort {
  readonly kind: 'docker' | 'swarm';
  /** Where it talks to, for errors and logs ("unix:///var/run/docker.sock"). */
  readonly endpoint: string;
  /** Fails with a typed error when the engine does not answer (or, for swarm, is no manager). */
  ping(): Promise<void>;
  /** One snapshot of everything this instance owns, or (with `stack`) of one stack's objects. */
  observe(instance: string, scope?: { stack?: string; volumes?: boolean }): Promise<ObservedState>;
  /** Pure: the shared planner with this backend's operations. */
  plan(desired: DesiredState, observed: ObservedState, inputs: PlanInputs): Plan;
  /** One lane pass's share of a stack's plan: each operation one engine call, each rollout one step; failures are collected, never thrown half-way. */
  applyStack(input: StackApplyInput, ctx: DeployContext, opts: ApplyOptions): Promise<StackApplyResult>;
}

/** The single-engine backend: its engine-level steps stay reachable for the daemon's healing, probes, pulls and router. */
export interface DockerPort extends BackendPort {
  readonly kind: 'docker';
  readonly engine: Backend;
}

export interface SwarmPort extends BackendPort {
  readonly kind: 'swarm';
}

export type AnyBackend = DockerPort | SwarmPort;
