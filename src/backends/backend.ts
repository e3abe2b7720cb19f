// What apply/ needs from an engine. The docker backend implements it with
// dockerode; the swarm backend (later) with Swarm services. Each method is
// one engine-level step; none of them decides anything.

import type { DesiredService } from '../desired/model.js';
import type { NetworkSpec, VolumeSpec } from '../manifests/model.js';
import type { ObservedContainer, ObservedImage, ObservedState } from '../observed/model.js';
import type { Progress } from '../logging/progress.js';
import type { ContentReader } from '../secrets/contents.js';
import type { SlotLabel } from '../strategies/step.js';

export interface DeployContext {
  instance: string;
  /** Full sha of the commit being deployed; stamped on every object. */
  revision: string;
  /** Directory holding the repository's files at `revision`; tracked relative bind sources resolve against it. Undefined when no service needs it. */
  checkoutDir: string | undefined;
  /** Absolute `<data-dir>/binds`: data directories of relative binds live below it, per stack, across revisions. */
  bindsDir?: string;
  /** False when the router serves published TCP ports (DESIGN §8): containers then bind no host port for them. */
  publishPorts: boolean;
  /** Content of secrets and configs, read (and decrypted) only when a container that uses them is created. */
  readContent?: ContentReader;
  /** Where long work (builds, pulls, rollouts) reports how far it is; `capstan apply` shows it, the daemon its dashboard. */
  progress?: Progress;
}

export interface Backend {
  /** A short description of where it talks to, for errors and logs ("unix:///var/run/docker.sock"). */
  readonly endpoint: string;
  /** Fails with DockerUnavailableError when the engine does not answer. */
  ping(): Promise<void>;
  /**
   * One snapshot of everything this instance owns, or (with `stack`) of one
   * stack's objects: a lane looks at its own stack only. `volumes: false`
   * may leave volumes out (a stack that declares none needs no look at them).
   */
  observe(instance: string, scope?: { stack?: string; volumes?: boolean }): Promise<ObservedState>;

  createNetwork(stack: string, network: NetworkSpec, ctx: DeployContext): Promise<void>;
  createVolume(stack: string, volume: VolumeSpec, ctx: DeployContext): Promise<void>;
  /** What can fail before a container is touched: builds the image when the service has `build:` (once per content tag), reads and decrypts its secrets and configs. */
  prepare(service: DesiredService, ctx: DeployContext): Promise<void>;
  /**
   * Prepare, create, copy the secrets and configs in, and start replica `number` of the service; returns the container id. A name held by a foreign object → NameConflictError.
   * `name` overrides the replica's name: a start-first update runs the new replica beside the old one under a second name first.
   * `slot` is its io.capstan.slot label (default `stable`): a blue-green set's colour, or `canary`.
   */
  createContainer(service: DesiredService, number: number, ctx: DeployContext, name?: string, slot?: SlotLabel): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** Stop (honouring stop_grace_period) and remove. Only ever called with ids from the owned snapshot. */
  removeContainer(containerId: string): Promise<void>;
  removeNetwork(networkId: string): Promise<void>;
  /** Gives a container (running or not) another name; the promotion step of a start-first update. */
  renameContainer(containerId: string, name: string): Promise<void>;
  /**
   * Each reference as the engine has it (undefined: it has not), one inspect
   * each. A backend without it (one whose nodes pull for themselves, as
   * Swarm's do) gets no pull operations planned.
   */
  inspectImages?(refs: readonly string[]): Promise<Map<string, ObservedImage | undefined>>;
  /**
   * Pulls `ref` with the Docker client's credentials for its registry; one
   * pull per reference at a time, a bounded number at once. Fails with
   * ImagePullError (image, registry, reason; never a credential).
   */
  pullImage?(ref: string, ctx: DeployContext): Promise<ObservedImage>;
  /** What a rollout waits on: state, health, address. Undefined when the container is gone. */
  inspectReplica(containerId: string): Promise<ReplicaState | undefined>;
}

export interface ReplicaState {
  state: ObservedContainer['state'];
  health: ObservedContainer['health'];
  ip: string | undefined;
  /** ms since the epoch; 0 when it never started. */
  startedAt: number;
  exitCode: number;
}
