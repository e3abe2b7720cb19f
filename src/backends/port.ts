// The port the reconcile loop talks to (DESIGN §7): observe the cluster,
// plan operations, apply them. Two implementations: `docker` (one engine;
// Capstan runs replicas, rollouts, health) and `swarm` (Swarm's services
// API; Swarm runs them). Both plan with the one shared planner
// (plan/planner.ts) and differ only in how a service becomes operations and
// how those reach the engine.

import type { ApplyOptions, ApplyOutcome } from '../apply/executor.js';
import type { DesiredState } from '../desired/model.js';
import type { ObservedState } from '../observed/model.js';
import type { Plan } from '../plan/operations.js';
import type { HealingInput } from '../plan/planner.js';
import type { HeldRollout } from '../strategies/rolling.js';
import type { Backend, DeployContext } from './backend.js';

export interface BackendPort {
  readonly kind: 'docker' | 'swarm';
  /** Where it talks to, for errors and logs ("unix:///var/run/docker.sock"). */
  readonly endpoint: string;
  /** Fails with a typed error when the engine does not answer (or, for swarm, is no manager). */
  ping(): Promise<void>;
  /** One snapshot of everything this instance owns. */
  observe(instance: string): Promise<ObservedState>;
  /** Pure: the shared planner with this backend's operations. */
  plan(desired: DesiredState, observed: ObservedState, held: readonly HeldRollout[], healing?: HealingInput): Plan;
  /** Runs a plan; failures are collected, never thrown half-way. */
  apply(plan: Plan, ctx: DeployContext, opts: ApplyOptions): Promise<ApplyOutcome>;
}

/** The single-engine backend: its engine-level steps stay reachable for the daemon's healing, probes and router. */
export interface DockerPort extends BackendPort {
  readonly kind: 'docker';
  readonly engine: Backend;
}

export interface SwarmPort extends BackendPort {
  readonly kind: 'swarm';
}

export type AnyBackend = DockerPort | SwarmPort;
