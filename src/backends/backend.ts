// What apply/ needs from an engine. The docker backend implements it with
// dockerode; the swarm backend (later) with Swarm services. Each method is
// one engine-level step; none of them decides anything.

import type { DesiredService } from '../desired/model.js';
import type { NetworkSpec, VolumeSpec } from '../manifests/model.js';
import type { ObservedState } from '../observed/model.js';
import type { ContentReader } from '../secrets/contents.js';

export interface DeployContext {
  instance: string;
  /** Full sha of the commit being deployed; stamped on every object. */
  revision: string;
  /** Directory holding the repository's files at `revision`; relative bind mounts resolve against it. Undefined when no service needs it. */
  checkoutDir: string | undefined;
  /** False when the router serves published TCP ports (DESIGN §8): containers then bind no host port for them. */
  publishPorts: boolean;
  /** Content of secrets and configs, read (and decrypted) only when a container that uses them is created. */
  readContent?: ContentReader;
}

export interface Backend {
  /** A short description of where it talks to, for errors and logs ("unix:///var/run/docker.sock"). */
  readonly endpoint: string;
  /** Fails with DockerUnavailableError when the engine does not answer. */
  ping(): Promise<void>;
  /** One snapshot of everything this instance owns. */
  observe(instance: string): Promise<ObservedState>;

  createNetwork(stack: string, network: NetworkSpec, ctx: DeployContext): Promise<void>;
  createVolume(stack: string, volume: VolumeSpec, ctx: DeployContext): Promise<void>;
  /** Build the service's image when it has `build:` and the tag does not exist; then create, copy its secrets and configs in, and start replica `number`; returns the container id. A name held by a foreign object → NameConflictError. */
  createContainer(service: DesiredService, number: number, ctx: DeployContext): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** Replace the container in the replica's slot with one built from the new spec; returns the new id. */
  recreateContainer(service: DesiredService, number: number, oldContainerId: string, ctx: DeployContext): Promise<string>;
  /** Stop (honouring stop_grace_period) and remove. Only ever called with ids from the owned snapshot. */
  removeContainer(containerId: string): Promise<void>;
  removeNetwork(networkId: string): Promise<void>;
}
