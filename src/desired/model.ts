// The desired state of one commit: every stack of the repository, each
// service with the hash that decides "changed or not". Built once per
// revision and then shared read-only by plan, apply and status.

import type { ServiceSpec, StackSpec } from '../manifests/model.js';

export interface DesiredService {
  stack: string;
  name: string;
  spec: ServiceSpec;
  /** Stable hash of the normalized spec, without `replicas` (scaling is not a change of spec). */
  specHash: string;
  /** Engine-level names of the networks and named volumes the service uses, keyed by their names in the stack (custom `name:` and external ones included). */
  engineNames: EngineNames;
}

export interface EngineNames {
  networks: Readonly<Record<string, string>>;
  volumes: Readonly<Record<string, string>>;
}

export interface DesiredStack {
  name: string;
  file: string;
  spec: StackSpec;
  /** In dependency order (depends_on first), ties by name. */
  services: readonly DesiredService[];
}

export interface DesiredState {
  /** Full 40-hex commit sha. */
  revision: string;
  /** Sorted by name. */
  stacks: readonly DesiredStack[];
}
