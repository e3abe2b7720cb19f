// The swarm backend's engine steps, through dockerode's services API on a
// manager (never the CLI). Each method is one call that apply/ asked for;
// nothing here decides what to do, except refusing to touch objects that
// lack this instance's label. Every failure leaves as a catalogued error.

import type Docker from 'dockerode';
import type { AuthConfig, ServiceSpec as SwarmServiceSpec } from 'dockerode';

/** The X-Registry-Auth body for a service's image (images/credentials.ts engineAuthConfig); never logged. */
export type EngineAuth = Record<string, string>;
import { LABEL } from '../../desired/labels.js';
import { STACK_NAMESPACE_LABEL } from '../../desired/swarm-names.js';
import { DockerApiError, SwarmNotManagerError } from '../../errors.js';
import type { NetworkSpec } from '../../manifests/model.js';
import type { ObservedState } from '../../observed/model.js';
import { takeSwarmSnapshot } from '../../observed/swarm-snapshot.js';
import { connectDocker, resolveEndpoint, type DockerEndpoint } from '../docker/connect.js';
import { engineMessage, statusCodeOf, toCapstanError } from '../docker/errors.js';

export interface SwarmEngine {
  readonly endpoint: string;
  /** Fails unless the engine answers and is a manager of an active swarm. */
  ping(): Promise<void>;
  /** Everything `instance` owns, or one stack's objects (nodes always). */
  observe(instance: string, stack?: string): Promise<ObservedState>;
  createNetwork(stack: string, network: NetworkSpec, instance: string): Promise<void>;
  removeNetwork(networkId: string): Promise<void>;
  /** Creates a secret or config (an existing one of that name is ours already: content-named, so equal) and returns its id. */
  createFile(kind: 'secret' | 'config', name: string, labels: Record<string, string>, data: Uint8Array): Promise<string>;
  /** False when Swarm refuses because a service still uses it (a rollback brought it back): it stays for the next pass. */
  removeFile(kind: 'secret' | 'config', fileId: string): Promise<boolean>;
  /** Ids of this instance's secrets and configs, by `kind\0name`. */
  fileIds(instance: string): Promise<Map<string, string>>;
  createService(spec: SwarmServiceSpec, auth: EngineAuth | undefined): Promise<string>;
  /** Replaces the spec of `version`; Swarm rolls it out with the spec's UpdateConfig. */
  updateService(serviceId: string, version: number, spec: SwarmServiceSpec, auth: EngineAuth | undefined): Promise<void>;
  removeService(serviceId: string): Promise<void>;
}

export async function createSwarmEngine(endpoint: DockerEndpoint = resolveEndpoint()): Promise<SwarmEngine> {
  const { docker, endpoint: display } = await connectDocker(endpoint);
  return new DockerodeSwarm(docker, display);
}

class DockerodeSwarm implements SwarmEngine {
  constructor(private readonly docker: Docker, readonly endpoint: string) {}

  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toCapstanError(err, operation, this.endpoint);
    }
  }

  async ping(): Promise<void> {
    const info = await this.call('swarm info', () => this.docker.info() as Promise<{ Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } }>);
    const state = info.Swarm?.LocalNodeState ?? 'inactive';
    if (state !== 'active' || info.Swarm?.ControlAvailable !== true) throw new SwarmNotManagerError(this.endpoint, state === 'active' ? 'active, but a worker' : state);
  }

  observe(instance: string, stack?: string): Promise<ObservedState> {
    return this.call('observe the swarm', () => takeSwarmSnapshot(this.docker, instance, stack));
  }

  async createNetwork(stack: string, network: NetworkSpec, instance: string): Promise<void> {
    const name = network.engineName;
    if (network.external) {
      const found = await this.docker.listNetworks({ filters: { name: [name] } });
      if (!found.some((n) => n.Name === name)) throw new DockerApiError(`network ${name}`, `external network ${name} does not exist in the swarm`);
      return;
    }
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: network.driver ?? 'overlay',
        // Attachable: `docker run --network` works for debugging, as with `docker stack deploy`'s networks.
        Attachable: true,
        CheckDuplicate: true,
        ...(network.internal === true ? { Internal: true } : {}),
        Labels: { ...network.labels, [STACK_NAMESPACE_LABEL]: stack, [LABEL.instance]: instance, [LABEL.stack]: stack, [LABEL.composeNetwork]: network.name },
      });
    } catch (err) {
      // Made by a pass that crashed after the call: the name is ours when its labels say so.
      if (statusCodeOf(err) === 409) {
        const found = await this.docker.listNetworks({ filters: { name: [name] } });
        if (found.some((n) => n.Name === name && n.Labels?.[LABEL.instance] === instance)) return;
      }
      throw toCapstanError(err, `create network ${name}`, this.endpoint);
    }
  }

  async removeNetwork(networkId: string): Promise<void> {
    try {
      await this.docker.getNetwork(networkId).remove();
    } catch (err) {
      if (statusCodeOf(err) === 404) return;
      throw toCapstanError(err, `remove network ${networkId.slice(0, 12)}`, this.endpoint);
    }
  }

  async createFile(kind: 'secret' | 'config', name: string, labels: Record<string, string>, data: Uint8Array): Promise<string> {
    const spec = { Name: name, Labels: labels, Data: Buffer.from(data).toString('base64') };
    try {
      const created = (await (kind === 'secret' ? this.docker.createSecret(spec) : this.docker.createConfig(spec))) as { id?: string; ID?: string };
      return created.id ?? created.ID ?? '';
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw toCapstanError(err, `create ${kind} ${name}`, this.endpoint);
      const id = (await this.fileIds(labels[LABEL.instance] ?? '')).get(`${kind}\u0000${name}`);
      if (id === undefined) throw toCapstanError(err, `create ${kind} ${name} (the name is taken by an object Capstan does not own)`, this.endpoint);
      return id;
    }
  }

  async removeFile(kind: 'secret' | 'config', fileId: string): Promise<boolean> {
    try {
      await (kind === 'secret' ? this.docker.getSecret(fileId).remove() : this.docker.getConfig(fileId).remove());
      return true;
    } catch (err) {
      const status = statusCodeOf(err);
      if (status === 404) return true;
      if (/in use/i.test(engineMessage(err))) return false;
      throw toCapstanError(err, `remove ${kind} ${fileId.slice(0, 12)}`, this.endpoint);
    }
  }

  async fileIds(instance: string): Promise<Map<string, string>> {
    const filters = { label: [`${LABEL.instance}=${instance}`] };
    const [secrets, configs] = await this.call('list secrets and configs', () => Promise.all([
      this.docker.listSecrets({ filters }) as Promise<{ ID?: string; Spec?: { Name?: string } }[]>,
      this.docker.listConfigs({ filters }) as Promise<{ ID?: string; Spec?: { Name?: string } }[]>,
    ]));
    const ids = new Map<string, string>();
    for (const s of secrets) ids.set(`secret\u0000${s.Spec?.Name ?? ''}`, s.ID ?? '');
    for (const c of configs) ids.set(`config\u0000${c.Spec?.Name ?? ''}`, c.ID ?? '');
    return ids;
  }

  async createService(spec: SwarmServiceSpec, auth: EngineAuth | undefined): Promise<string> {
    // Both arguments, always: with the spec alone dockerode sends it as the registry-auth header too.
    const service = await this.call(`create service ${spec.Name ?? ''}`, () => this.docker.createService(auth as AuthConfig, spec));
    return service.id;
  }

  async updateService(serviceId: string, version: number, spec: SwarmServiceSpec, auth: EngineAuth | undefined): Promise<void> {
    // `_query`/`_body`: the version goes in the query string and the spec in the body, not the spec in the query string.
    const service = this.docker.getService(serviceId);
    // dockerode takes (auth, options) here as for createService; its types only know (options).
    const update = service.update.bind(service) as unknown as (auth: EngineAuth | undefined, options: object) => Promise<unknown>;
    await this.call(`update service ${spec.Name ?? serviceId}`, () => update(auth, { _query: { version }, _body: spec }));
  }

  async removeService(serviceId: string): Promise<void> {
    try {
      await this.docker.getService(serviceId).remove();
    } catch (err) {
      if (statusCodeOf(err) === 404) return;
      throw toCapstanError(err, `remove service ${serviceId.slice(0, 12)}`, this.endpoint);
    }
  }
}
