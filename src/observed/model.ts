// One snapshot of the engine, collected by Capstan's labels once per pass
// (Compose's observed_state idea). Only objects carrying this instance's
// `io.capstan.instance` label appear here, so nothing else can be planned on.

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
}
