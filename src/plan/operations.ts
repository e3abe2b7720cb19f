// A plan is an ordered list of operations, each one engine-level step with
// the reason it exists. The planner (pure) produces them; apply/ executes
// them; renderers print them. Operations are grouped in phases: every
// operation of a phase may run in parallel, phases run in order.

import type { DesiredService } from '../desired/model.js';
import type { NetworkSpec, VolumeSpec } from '../manifests/model.js';

interface OperationBase {
  stack: string;
  /** Why this operation exists, in words: "image changed example/api:1.4.1 → 1.4.2". */
  cause: string;
  /** Operations of a lower phase complete before a higher phase starts. */
  phase: number;
}

export type Operation =
  | (OperationBase & { kind: 'create-network'; network: NetworkSpec })
  | (OperationBase & { kind: 'create-volume'; volume: VolumeSpec })
  | (OperationBase & { kind: 'create-container'; service: DesiredService; number: number; name: string })
  | (OperationBase & { kind: 'start-container'; service: string; name: string; containerId: string })
  | (OperationBase & { kind: 'recreate-container'; service: DesiredService; number: number; name: string; containerId: string })
  | (OperationBase & { kind: 'remove-container'; service: string; name: string; containerId: string })
  | (OperationBase & { kind: 'remove-network'; name: string; networkId: string });
// Volumes are never removed by a plan: they hold data, and a user who wants
// one gone says so with `docker volume rm`, as with `docker compose down`.

export type OperationKind = Operation['kind'];

/** Per-service summary lines for renderers ("api: 3 replicas, image x"). */
export interface ServiceChange {
  stack: string;
  service: string;
  action: 'create' | 'update' | 'scale' | 'remove' | 'unchanged';
  replicas: { from: number; to: number };
  causes: readonly string[];
}

/** A replica the planner would restart but does not yet: it is crash-looping and its backoff has not elapsed. */
export interface HeldBack {
  stack: string;
  service: string;
  name: string;
  /** ms since the epoch: the next pass at or after this time restarts it. */
  until: number;
  crashes: number;
  exitCode: number | undefined;
  cause: string;
}

export interface Plan {
  revision: string;
  instance: string;
  operations: readonly Operation[];
  services: readonly ServiceChange[];
  /** Restarts postponed by crash-loop backoff (daemon passes only). */
  heldBack: readonly HeldBack[];
}

export function isEmpty(plan: Plan): boolean {
  return plan.operations.length === 0;
}
