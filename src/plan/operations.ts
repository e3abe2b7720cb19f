// A plan is an ordered list of operations, each one engine-level step with
// the reason it exists. The planner (pure) produces them; apply/ executes
// them; renderers print them. Operations are grouped in phases: every
// operation of a phase may run in parallel, phases run in order.

import type { DesiredService } from '../desired/model.js';
import type { MountedFile, NetworkSpec, ServiceSpec, VolumeSpec } from '../manifests/model.js';
import type { RolloutEnd } from '../errors.js';
import type { Direction, HeldRollout } from '../strategies/rolling.js';

/**
 * Why an operation exists, as a value: healing, metrics and status decide on
 * this, never on the rendered `cause` (which is for people and may change).
 */
export type OperationReason =
  | 'network-missing' | 'volume-missing' | 'network-unused'
  | 'new-service' | 'scale-up' | 'scale-down' | 'replica-missing' | 'duplicate'
  | 'spec-changed' | 'roll-back' | 'image-drift' | 'stopped' | 'crashed'
  | 'finish-update' | 'leftover-twin' | 'leftover-canary' | 'service-removed' | 'stack-removed'
  | 'image-missing' | 'image-moved'
  // Swarm's secrets and configs (immutable, named after their content).
  | 'file-missing' | 'file-changed' | 'file-unused';

interface OperationBase {
  /** Stable within a plan and across plans of the same change: `<kind>:<stack>/<target>`. */
  id: string;
  stack: string;
  reason: OperationReason;
  /** Why this operation exists, in words: "image changed example/api:1.4.1 → 1.4.2". */
  cause: string;
  /** Operations of a lower phase complete before a higher phase starts. */
  phase: number;
}

export type Operation =
  /** Pulled before any container of `services` (`stack/service`) is (re)created; one operation per reference. */
  | (OperationBase & { kind: 'pull-image'; image: string; services: readonly string[] })
  | (OperationBase & { kind: 'create-network'; network: NetworkSpec })
  | (OperationBase & { kind: 'create-volume'; volume: VolumeSpec })
  | (OperationBase & { kind: 'create-container'; service: DesiredService; number: number; name: string })
  | (OperationBase & { kind: 'start-container'; service: string; name: string; containerId: string })
  | (OperationBase & { kind: 'recreate-container'; service: DesiredService; number: number; name: string; containerId: string; update: RolloutInfo })
  /** A start-first update was interrupted after the old replica left: the twin takes the replica's name. */
  | (OperationBase & { kind: 'promote-container'; service: string; name: string; containerId: string; from: string })
  | (OperationBase & { kind: 'remove-container'; service: string; name: string; containerId: string })
  | (OperationBase & { kind: 'remove-network'; name: string; networkId: string })
  // The swarm backend's operations: Swarm runs the replicas, so a plan names services, not containers.
  | (OperationBase & { kind: 'create-service'; service: DesiredService; name: string })
  /** A new spec, rolled out by Swarm's own rolling update (update_config), rolled back by Swarm on failure (rollback_config). */
  | (OperationBase & { kind: 'update-service'; service: DesiredService; name: string; serviceId: string; version: number; direction: Direction; previous: { spec: ServiceSpec; specHash: string } | undefined })
  /** Only the replica count changed: no task is replaced. */
  | (OperationBase & { kind: 'scale-service'; service: DesiredService; name: string; serviceId: string; version: number; replicas: { from: number; to: number } })
  | (OperationBase & { kind: 'remove-service'; service: string; name: string; serviceId: string })
  /** Secrets and configs are immutable in Swarm: a new content is a new object, named after its digest. */
  | (OperationBase & { kind: 'create-secret' | 'create-config'; name: string; file: MountedFile })
  | (OperationBase & { kind: 'remove-secret' | 'remove-config'; name: string; fileId: string });
// Volumes are never removed by a plan: they hold data, and a user who wants
// one gone says so with `docker volume rm`, as with `docker compose down`.

export type OperationKind = Operation['kind'];

/** An operation before the planner gives it its id. */
export type OperationDraft = Operation extends infer O ? (O extends Operation ? Omit<O, 'id'> : never) : never;

/** What the rolling-update driver needs to know about one slot it replaces. */
export interface RolloutInfo {
  /** `back` when the planner resumes a rollback of a held revision: rollback_config applies and a failure is final. */
  direction: Direction;
  /** The spec the slot's replica was made from (its spec label): where a rollback returns to. Undefined when unreadable. */
  previous: { spec: ServiceSpec; specHash: string } | undefined;
  /** A start-first twin already running the target spec (left by an interrupted pass): waited on instead of created. */
  twinId: string | undefined;
  /** A moved tag: the repo digest the slots move to (their spec hash stays the same). */
  targetDigest?: string | undefined;
}

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
  /** Services whose rollout of this revision failed before: held at what they were restored to, not retried. */
  heldRollouts: readonly HeldRollout[];
  /** Rolling updates the engine carries out by itself (Swarm's): under way, or ended by it in failure and not yet held. */
  engineRollouts?: readonly EngineRollout[];
}

/**
 * A rolling update Swarm runs (update_config, rollback_config) as the
 * snapshot shows it. Its state lives in Swarm (UpdateStatus), so a lane
 * follows it pass by pass, as it steps its own rollouts.
 */
export interface EngineRollout {
  stack: string;
  service: string;
  /** `<stack>_<service>`. */
  name: string;
  /** The spec being rolled out, or the one that failed. */
  specHash: string;
  /**
   * `rolling`: Swarm says it is under way; `settling`: Swarm says nothing
   * (yet), but tasks of the new spec are still short of what it wants — under
   * way if the change is recent (the driver has the clock); otherwise how
   * Swarm ended it, a failure.
   */
  state: 'rolling' | 'settling' | RolloutEnd;
  /** ms since the epoch: when Swarm began (the service's last change). */
  since: number;
  /** Swarm's words, and the failed task's error. */
  reason: string;
  /** Rolled back: the spec the service runs again (held, so the revision is not tried again). */
  restored: { spec: ServiceSpec; specHash: string } | undefined;
  direction: Direction;
  /** Tasks on the spec being rolled out, of those Swarm wants. */
  tasks: { running: number; desired: number };
}

export function isEmpty(plan: Plan): boolean {
  return plan.operations.length === 0;
}
