// One snapshot of the engine, collected by Capstan's labels once per pass
// (Compose's observed_state idea). Only objects carrying this instance's
// `io.capstan.instance` label appear here, so nothing else can be planned on.

import type { ServiceSpec } from '../manifests/model.js';

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ObservedContainer {
  id: string;
  /** Without the leading slash. */
  name: string;
  stack: string;
  service: string;
  /** Replica slot from `com.docker.compose.container-number`. */
  number: number;
  specHash: string;
  revision: string;
  state: ContainerState;
  /** From Docker's healthcheck, when the container has one. */
  health: 'starting' | 'healthy' | 'unhealthy' | undefined;
  labels: Readonly<Record<string, string>>;
  /** Image reference the container was created from (as listed), for drift reporting. */
  image: string;
  /** Address on the first network that has one (from the list call); probes reach the replica here. */
  ip: string | undefined;
  /** The last finished run, inspected only for containers that are not running (crash-loop backoff, status). */
  lastRun: LastRun | undefined;
  /** What Docker's healthcheck last said, inspected only for containers it reports unhealthy (status shows why). */
  healthcheck: HealthcheckRun | undefined;
}

export interface HealthcheckRun {
  exitCode: number;
  /** The check's output, trimmed to one line of at most 200 characters. */
  output: string;
}

export interface LastRun {
  /** ms since the epoch. */
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  oomKilled: boolean;
}

export interface ObservedNetwork {
  id: string;
  name: string;
  stack: string;
  labels: Readonly<Record<string, string>>;
}

export interface ObservedVolume {
  name: string;
  stack: string;
  labels: Readonly<Record<string, string>>;
}

/** An image on the engine, as `docker image inspect` describes it. */
export interface ObservedImage {
  id: string;
  /** `repo@sha256:…` for each registry repository it was pulled from or pushed to; empty for images only built here. */
  repoDigests: readonly string[];
}

/** What a pass knows about the images Git names (DESIGN §2 "Images"). */
export interface ImageFacts {
  /** By reference as the manifest writes it; undefined: the engine does not have it. */
  engine: ReadonlyMap<string, ObservedImage | undefined>;
  /** The registry's current digest of each tag whose pull_policy asked for a look this pass (HEAD on the manifest). */
  registry: ReadonlyMap<string, string>;
}

export interface ObservedState {
  instance: string;
  containers: readonly ObservedContainer[];
  networks: readonly ObservedNetwork[];
  volumes: readonly ObservedVolume[];
  /** The images of the desired services, looked at once per pass after Git was read; absent: nothing is known, so nothing is pulled. */
  images?: ImageFacts;
  /** Set by the swarm backend only: the services, tasks, nodes, secrets and configs it owns (containers is then empty). */
  swarm?: ObservedSwarm;
}

/** Where Swarm is in a service's rolling update (its `UpdateStatus.State`). */
export type SwarmUpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface ObservedSwarm {
  services: readonly ObservedService[];
  /** Every node of the swarm (not only those running our tasks): status shows nodes down. */
  nodes: readonly ObservedNode[];
  /** Secrets and configs carrying this instance's label. */
  files: readonly ObservedSwarmFile[];
}

export interface ObservedService {
  id: string;
  /** `<stack>_<service>`. */
  name: string;
  stack: string;
  service: string;
  /** Swarm's object version: an update names the version it replaces. */
  version: number;
  specHash: string;
  revision: string;
  /** The spec the service was made from (its spec label), undefined when unreadable. */
  spec: ServiceSpec | undefined;
  mode: 'replicated' | 'global';
  /** Replicated: the replica count asked of Swarm; global: 0. */
  replicas: number;
  labels: Readonly<Record<string, string>>;
  update: { state: SwarmUpdateState; message: string } | undefined;
  /** ms since the epoch of the last change to the service or its update: when Swarm began what it does now. */
  changedAt: number;
  /** The spec before the last update (Swarm's PreviousSpec; a rollback clears it): set once the service was updated. */
  previous: { specHash: string } | undefined;
  /** Tasks Swarm keeps for the service (current and recent), newest state first per slot. */
  tasks: readonly ObservedTask[];
}

export interface ObservedTask {
  id: string;
  /** Replicated: the slot; global: 0. */
  slot: number;
  nodeId: string;
  /** What Swarm wants (`running`, `shutdown`) and what the task is (`running`, `starting`, `failed`, ...). */
  desiredState: string;
  state: string;
  /** The spec hash of the service spec the task was made from. */
  specHash: string;
  /** Swarm's error text for a failed or rejected task. */
  error: string;
  /** ms since the epoch of the last state change. */
  at: number;
}

export interface ObservedNode {
  id: string;
  hostname: string;
  role: 'manager' | 'worker';
  /** `ready`, `down`, `unknown`, `disconnected`. */
  state: string;
  /** `active`, `pause`, `drain`. */
  availability: string;
  addr: string;
}

export interface ObservedSwarmFile {
  id: string;
  kind: 'secret' | 'config';
  /** The content-addressed name, `<stack>_<name>-<digest>`. */
  name: string;
  stack: string;
  /** The top-level `secrets:`/`configs:` key it holds the content of. */
  file: string;
  labels: Readonly<Record<string, string>>;
}
