// The Backend for one Docker engine, through dockerode. Each method is one
// engine-level step that apply/ asked for; nothing here decides what to do,
// except refusing to touch objects that lack this instance's label. Every
// failure leaves as a catalogued error (see ./errors.ts).

import type { SlotLabel } from '../../strategies/step.js';
import type Docker from 'dockerode';
import type { ContainerCreateOptions, EndpointSettings } from 'dockerode';
import { existsSync } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { Backend, DeployContext, ReplicaState } from '../backend.js';
import { LABEL, anonymousVolumeName } from '../../desired/labels.js';
import type { DesiredService } from '../../desired/model.js';
import { decodeSpecLabel } from '../../desired/spec-label.js';
import { BindSourceError, DataDirWriteError, DockerApiError, ImagePullError, NameConflictError, NotOwnedError } from '../../errors.js';
import { dockerCredentials, type CredentialStore } from '../../images/credentials.js';
import { parseImageRef, repoDigestOf } from '../../manifests/image-ref.js';
import type { Logger } from '../../logging/logger.js';
import type { NetworkSpec, VolumeSpec } from '../../manifests/model.js';
import type { ObservedImage, ObservedState } from '../../observed/model.js';
import { parseState, takeSnapshot } from '../../observed/snapshot.js';
import { connectDocker, resolveEndpoint, type DockerEndpoint } from './connect.js';
import { bindSources, containerCreateOptions } from './container-spec.js';
import { engineMessage, statusCodeOf, toCapstanError } from './errors.js';
import { ImageBuilder } from './image-build.js';
import type { SubnetPoolSpec } from './cidr.js';
import { SubnetPool, subnetsInUse } from './subnet-pool.js';
import { ImagePuller } from './image-pull.js';
import { injectFiles, readFiles } from './inject-files.js';
import type { TarEntry } from './tar.js';

export interface DockerBackendOptions {
  logger: Logger;
  /** Defaults to DOCKER_HOST as the Docker CLI reads it. */
  endpoint?: DockerEndpoint;
  /** Where bridge networks without an ipam of their own get their subnet; undefined: the engine's default pools. */
  subnetPool?: SubnetPoolSpec | undefined;
  /** Registry credentials for pulls; defaults to the Docker client's config ($DOCKER_CONFIG, else ~/.docker). */
  credentials?: CredentialStore;
}

export async function createDockerBackend(opts: DockerBackendOptions): Promise<Backend> {
  const { docker, endpoint } = await connectDocker(opts.endpoint ?? resolveEndpoint());
  const subnets = opts.subnetPool === undefined ? undefined : new SubnetPool(opts.subnetPool, () => subnetsInUse(docker));
  return new DockerBackend(docker, endpoint, opts.logger, subnets, opts.credentials ?? dockerCredentials());
}

class DockerBackend implements Backend {
  private readonly images: ImageBuilder;
  private readonly puller: ImagePuller;

  constructor(
    private readonly docker: Docker,
    readonly endpoint: string,
    private readonly logger: Logger,
    private readonly subnets: SubnetPool | undefined,
    credentials: CredentialStore,
  ) {
    this.images = new ImageBuilder(docker, endpoint, logger);
    this.puller = new ImagePuller(docker, credentials, logger);
  }

  /** Runs one engine call and turns whatever it throws into the catalogue. */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toCapstanError(err, operation, this.endpoint);
    }
  }

  /** Like call(), but the listed HTTP statuses mean "already as wanted" and are not errors. */
  private async callTolerating(operation: string, okStatuses: readonly number[], fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const status = statusCodeOf(err);
      if (status !== undefined && okStatuses.includes(status)) return;
      throw toCapstanError(err, operation, this.endpoint);
    }
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.docker.ping());
  }

  async observe(instance: string, scope: { stack?: string; volumes?: boolean } = {}): Promise<ObservedState> {
    return this.call('observe', () => takeSnapshot(this.docker, instance, scope.stack, scope.volumes ?? true));
  }

  async inspectImages(refs: readonly string[]): Promise<Map<string, ObservedImage | undefined>> {
    const found = await Promise.all(refs.map((ref) => this.call(`inspect image ${ref}`, () => this.puller.inspect(ref))));
    return new Map(refs.map((ref, i) => [ref, found[i]]));
  }

  async pullImage(ref: string, ctx: DeployContext): Promise<ObservedImage> {
    return this.puller.pull(ref, ctx.progress);
  }

  async createNetwork(stack: string, network: NetworkSpec, ctx: DeployContext): Promise<void> {
    const name = network.engineName;
    if (network.external) {
      // Not ours to create: it only has to be there.
      const found = await this.inspectNetwork(name);
      if (found === undefined) throw new DockerApiError(`use external network ${name}`, `network ${name} does not exist; create it first (docker network create ${name})`);
      return;
    }
    const labels = {
      ...network.labels,
      [LABEL.composeProject]: stack,
      [LABEL.composeNetwork]: network.name,
      [LABEL.instance]: ctx.instance,
      [LABEL.stack]: stack,
    };
    // An existing network of that name is checked first: engines before API 1.44 would create a second one of the same name.
    const existing = await this.inspectNetwork(name);
    if (existing !== undefined) {
      if (existing.Labels?.[LABEL.instance] === ctx.instance) return;
      throw new NotOwnedError('network', name, ownerOf(existing.Labels));
    }
    const create = (subnet: string | undefined): Promise<unknown> => this.docker.createNetwork({
      Name: name,
      CheckDuplicate: true,
      Labels: labels,
      ...(network.driver === undefined ? {} : { Driver: network.driver }),
      ...(network.internal === true ? { Internal: true } : {}),
      ...(network.enableIpv6 === true ? { EnableIPv6: true } : {}),
      // The manifest's own address plan, as given: it wins over anything Capstan or the engine would pick.
      ...(network.ipam !== undefined ? {
        IPAM: {
          ...(network.ipam.driver === undefined ? {} : { Driver: network.ipam.driver }),
          Config: network.ipam.config.map((c) => ({
            ...(c.subnet === undefined ? {} : { Subnet: c.subnet }),
            ...(c.ipRange === undefined ? {} : { IPRange: c.ipRange }),
            ...(c.gateway === undefined ? {} : { Gateway: c.gateway }),
            ...(Object.keys(c.auxAddresses).length === 0 ? {} : { AuxiliaryAddresses: { ...c.auxAddresses } }),
          })),
          Options: { ...network.ipam.options },
        },
      } : subnet === undefined ? {} : { IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] } }),
    });
    // Only bridge networks without an ipam of their own: other drivers (macvlan, overlay, ...) take their addresses from elsewhere.
    const pool = network.ipam === undefined && (network.driver === undefined || network.driver === 'bridge') ? this.subnets : undefined;
    try {
      if (pool === undefined) await create(undefined);
      else {
        const subnet = await pool.allocate(name, async (s) => void (await create(s)));
        this.logger.info({ stack, network: name, subnet }, `network ${name} gets subnet ${subnet} from the pool`);
      }
    } catch (err) {
      if (statusCodeOf(err) !== 409) throw toCapstanError(err, `create network ${name}`, this.endpoint);
      // Made meanwhile: fine when it is this stack's (a concurrent pass), never joined otherwise.
      const found = await this.inspectNetwork(name);
      if (found?.Labels?.[LABEL.instance] !== ctx.instance) throw new NotOwnedError('network', name, ownerOf(found?.Labels));
    }
  }

  private async inspectNetwork(name: string): Promise<Docker.NetworkInspectInfo | undefined> {
    try {
      return await this.docker.getNetwork(name).inspect();
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw toCapstanError(err, `inspect network ${name}`, this.endpoint);
    }
  }

  async createVolume(stack: string, volume: VolumeSpec, ctx: DeployContext): Promise<void> {
    const name = volume.engineName;
    if (volume.external) {
      try {
        await this.docker.getVolume(name).inspect();
      } catch (err) {
        if (statusCodeOf(err) === 404) throw new DockerApiError(`use external volume ${name}`, `volume ${name} does not exist; create it first (docker volume create ${name})`, err);
        throw toCapstanError(err, `inspect volume ${name}`, this.endpoint);
      }
      return;
    }
    const wanted = {
      ...volume.labels,
      [LABEL.composeProject]: stack,
      [LABEL.composeVolume]: volume.name,
      [LABEL.instance]: ctx.instance,
      [LABEL.stack]: stack,
    };
    // The engine answers a create of an existing name with success (or 409
    // for another driver), so ownership is checked by inspecting afterwards.
    await this.callTolerating(`create volume ${name}`, [409], () =>
      this.docker.createVolume({ Name: name, Labels: wanted, ...(volume.driver === undefined ? {} : { Driver: volume.driver }) }),
    );
    const existing = await this.call(`inspect volume ${name}`, () => this.docker.getVolume(name).inspect());
    const labels = existing.Labels as Record<string, string> | null | undefined;
    if (labels?.[LABEL.instance] !== ctx.instance) throw new NotOwnedError('volume', name, ownerOf(labels));
  }

  async createContainer(service: DesiredService, number: number, ctx: DeployContext, name?: string, slot?: SlotLabel): Promise<string> {
    return this.createPrepared(service, number, ctx, await this.prepareFiles(service, ctx), name, slot);
  }

  async prepare(service: DesiredService, ctx: DeployContext): Promise<void> {
    await this.prepareFiles(service, ctx);
  }

  /** What can fail before a container is touched: building its image, reading and decrypting its secrets. */
  private async prepareFiles(service: DesiredService, ctx: DeployContext): Promise<TarEntry[]> {
    await this.images.ensure(service, ctx);
    return readFiles(service, ctx);
  }

  private async createPrepared(service: DesiredService, number: number, ctx: DeployContext, files: readonly TarEntry[], name: string | undefined, slot?: SlotLabel): Promise<string> {
    const imageDigest = await this.imageDigest(service);
    const options = containerCreateOptions(service, number, ctx, { ...(name === undefined ? {} : { name }), ...(slot === undefined ? {} : { slot }), imageDigest });
    await this.ensureBindSources(service, ctx);
    await this.ensureAnonymousVolumes(service, number, ctx);
    const { create, extraNetworks } = splitNetworks(options);
    const id = await this.createOwned(create, service, ctx.instance);
    try {
      for (const [network, endpoint] of extraNetworks) {
        await this.call(`connect ${create.name ?? id} to ${network}`, () => this.docker.getNetwork(network).connect({ Container: id, EndpointConfig: endpoint }));
      }
      await injectFiles(this.docker, this.endpoint, id, service, files);
    } catch (err) {
      // A container without its secrets must not be left for a later pass to start.
      await this.callTolerating(`remove half-made container ${create.name ?? id}`, [404], () => this.docker.getContainer(id).remove({ force: true, v: false }));
      throw err;
    }
    await this.start(id);
    return id;
  }

  /**
   * The repo digest the replica will run (its io.capstan.image-digest label).
   * A missing image is reported as a pull failure: pulls come before creates,
   * so it is pull_policy never, or removed behind Capstan's back.
   */
  private async imageDigest(service: DesiredService): Promise<string | undefined> {
    const ref = service.spec.image;
    const image = await this.call(`inspect image ${ref}`, () => this.puller.inspect(ref));
    const parsed = parseImageRef(ref);
    if (image === undefined) {
      const never = service.spec.pullPolicy?.kind === 'never';
      throw new ImagePullError(ref, parsed?.registry ?? 'docker.io', never ? 'never' : 'not-found', never ? 'it is not on the engine and pull_policy is never' : 'it is not on the engine', { stack: service.stack, service: service.name });
    }
    if (service.spec.build !== undefined || parsed === undefined) return undefined;
    return parsed.digest ?? repoDigestOf(parsed, image.repoDigests);
  }

  /**
   * Creates the container; a name already taken is resolved only when the
   * holder's own labels say it is a replica of this very service (a leftover
   * in our own slot, e.g. from a pass that crashed). Any other holder — not
   * Capstan's, another instance's, another stack's or service's — is
   * reported, never removed.
   */
  private async createOwned(options: ContainerCreateOptions, service: DesiredService, instance: string): Promise<string> {
    const name = options.name ?? '';
    for (let attempt = 0; ; attempt++) {
      try {
        const container = await this.docker.createContainer(options);
        return container.id;
      } catch (err) {
        if (statusCodeOf(err) !== 409 || attempt > 0) throw toCapstanError(err, `create container ${name}`, this.endpoint);
        const holder = await this.inspectContainer(name);
        if (holder === undefined) continue; // gone meanwhile: just try again
        const labels = holder.Config.Labels ?? {};
        if (labels[LABEL.instance] !== instance || labels[LABEL.stack] !== service.stack || labels[LABEL.service] !== service.name) {
          throw new NameConflictError(name, holder.Id, labels[LABEL.instance] === undefined ? undefined : ownerOf(labels));
        }
        this.logger.warn({ container: name, id: holder.Id.slice(0, 12) }, 'removing a leftover container of this instance that holds the replica slot');
        await this.callTolerating(`remove leftover container ${name}`, [404], () => this.docker.getContainer(holder.Id).remove({ force: true, v: false }));
      }
    }
  }

  private async inspectContainer(nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(nameOrId).inspect();
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw toCapstanError(err, `inspect container ${nameOrId}`, this.endpoint);
    }
  }

  /**
   * The slot's anonymous volumes, made with Capstan's labels before the
   * container (the engine would make them unlabelled). Reused as they are
   * when the slot's container is recreated; never removed.
   */
  private async ensureAnonymousVolumes(service: DesiredService, number: number, ctx: DeployContext): Promise<void> {
    for (const m of service.spec.volumes) {
      if (m.type !== 'volume' || m.source !== '') continue;
      const name = anonymousVolumeName(service.stack, service.name, number, m.target);
      const labels = {
        [LABEL.composeProject]: service.stack,
        [LABEL.composeVolume]: name,
        [LABEL.instance]: ctx.instance,
        [LABEL.stack]: service.stack,
        [LABEL.service]: service.name,
        [LABEL.composeNumber]: String(number),
        [LABEL.anonymousVolume]: m.target,
      };
      await this.callTolerating(`create volume ${name}`, [409], () => this.docker.createVolume({ Name: name, Labels: labels }));
      const existing = await this.call(`inspect volume ${name}`, () => this.docker.getVolume(name).inspect());
      const found = existing.Labels as Record<string, string> | null | undefined;
      if (found?.[LABEL.instance] !== ctx.instance) throw new NotOwnedError('volume', name, ownerOf(found));
    }
  }

  /**
   * Compose creates a missing bind source as an empty directory, with a
   * warning, rather than failing; a data directory is made silently (that is
   * its first use). Below the checkout and the binds directory no part of the
   * path may be a symbolic link: the engine would follow it anywhere on the host.
   */
  private async ensureBindSources(service: DesiredService, ctx: DeployContext): Promise<void> {
    for (const { mount, source } of bindSources(service, ctx)) {
      if (!mount.relative) {
        if (existsSync(source)) continue;
        this.logger.warn({ stack: service.stack, service: service.name, path: source }, 'bind mount source does not exist; creating it as an empty directory');
        await mkdir(source, { recursive: true });
        continue;
      }
      const base = mount.persistent === true ? ctx.bindsDir : ctx.checkoutDir;
      if (base === undefined) continue; // bindSource has refused it already
      const link = await symlinkBelow(base, source);
      if (link !== undefined) throw new BindSourceError(service.stack, service.name, source, `crosses the symbolic link ${link}`);
      if (existsSync(source)) continue;
      if (mount.content !== undefined) throw new BindSourceError(service.stack, service.name, source, `is missing from the checkout of ${ctx.revision.slice(0, 7)}`);
      // A data directory's first use; a bind from before the tracked/data split (a restored old spec) as it always was.
      await mkdir(source, { recursive: true }).catch((err: unknown) => {
        throw DataDirWriteError.from(err, source);
      });
    }
  }

  async startContainer(containerId: string): Promise<void> {
    // A replica with secrets or configs that was created but never started may
    // lack them (the operator stopped between create and copy): starting it
    // would run it without. Removed instead, its slot is filled by the next pass.
    const info = await this.inspectContainer(containerId);
    const spec = info === undefined ? undefined : decodeSpecLabel(info.Config.Labels ?? {});
    const neverStarted = info !== undefined && /^0001-01-01/.test(info.State.StartedAt);
    if (neverStarted && spec !== undefined && (spec.secrets ?? []).length + (spec.configs ?? []).length > 0) {
      await this.callTolerating(`remove unstarted container ${info.Name.replace(/^\//, '')}`, [404], () => this.docker.getContainer(containerId).remove({ force: true, v: false }));
      throw new DockerApiError(`start container ${info.Name.replace(/^\//, '')}`, 'it was created but never started, so its secrets and configs may be missing; removed it, and the next pass creates it again with them');
    }
    await this.start(containerId);
  }

  private async start(containerId: string): Promise<void> {
    // 304: already running, which is what was asked.
    await this.callTolerating(`start container ${short(containerId)}`, [304], () => this.docker.getContainer(containerId).start());
  }

  async removeContainer(containerId: string): Promise<void> {
    const container = this.docker.getContainer(containerId);
    // No timeout given: the engine uses the StopTimeout set at create (stop_grace_period).
    // 304 already stopped, 404 already gone.
    await this.callTolerating(`stop container ${short(containerId)}`, [304, 404], () => container.stop());
    try {
      // v: false — volumes outlive containers; they are removed only on purpose.
      await container.remove({ v: false });
    } catch (err) {
      const status = statusCodeOf(err);
      if (status === 404) return;
      // Someone else removes it already: done once it is gone, so that its name is free when this returns.
      if (status === 409 && /already in progress/i.test(engineMessage(err))) return this.untilGone(containerId);
      throw toCapstanError(err, `remove container ${short(containerId)}`, this.endpoint);
    }
  }

  private async untilGone(containerId: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await this.inspectContainer(containerId)) === undefined) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new DockerApiError(`remove container ${short(containerId)}`, 'the engine has been removing it for 10 s and it is still there');
  }

  async removeNetwork(networkId: string): Promise<void> {
    await this.callTolerating(`remove network ${short(networkId)}`, [404], () => this.docker.getNetwork(networkId).remove());
  }

  async renameContainer(containerId: string, name: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).rename({ name });
    } catch (err) {
      // Renamed already (a pass that crashed after the rename; the engine answers 400 for its own name): nothing to do.
      const self = await this.inspectContainer(containerId);
      if (self?.Name.replace(/^\//, '') === name) return;
      if (statusCodeOf(err) === 409) {
        const holder = await this.inspectContainer(name);
        if (holder !== undefined) throw new NameConflictError(name, holder.Id, holder.Config.Labels?.[LABEL.instance] === undefined ? undefined : ownerOf(holder.Config.Labels));
      }
      throw toCapstanError(err, `rename container ${short(containerId)} to ${name}`, this.endpoint);
    }
  }

  async inspectReplica(containerId: string): Promise<ReplicaState | undefined> {
    const info = await this.inspectContainer(containerId);
    if (info === undefined) return undefined;
    const st = info.State;
    const health = st.Health?.Status;
    const ip = Object.keys(info.NetworkSettings.Networks).sort().map((k) => info.NetworkSettings.Networks[k]?.IPAddress).find((a) => a !== undefined && a !== '');
    const startedAt = Date.parse(st.StartedAt);
    return {
      state: parseState(st.Status),
      health: health === 'starting' || health === 'healthy' || health === 'unhealthy' ? health : undefined,
      ip,
      startedAt: startedAt > 0 ? startedAt : 0,
      exitCode: st.ExitCode,
    };
  }
}


/**
 * Engines before API 1.44 attach a container to one network at create; the
 * others are connected before start, as Compose does.
 */
function splitNetworks(options: ContainerCreateOptions): { create: ContainerCreateOptions; extraNetworks: [string, EndpointSettings][] } {
  const endpoints = Object.entries(options.NetworkingConfig?.EndpointsConfig ?? {});
  const first = endpoints[0];
  if (first === undefined || endpoints.length === 1) return { create: options, extraNetworks: [] };
  return { create: { ...options, NetworkingConfig: { EndpointsConfig: { [first[0]]: first[1] } } }, extraNetworks: endpoints.slice(1) };
}

/** Who an object belongs to, by its labels, for errors: another Capstan instance or stack, a Compose project, or nobody we know. */
export function ownerOf(labels: Readonly<Record<string, string>> | null | undefined): string {
  const instance = labels?.[LABEL.instance];
  const stack = labels?.[LABEL.stack] ?? labels?.[LABEL.composeProject];
  const service = labels?.[LABEL.service];
  if (instance !== undefined) return `Capstan instance ${instance}${stack === undefined ? '' : `, stack ${stack}`}${service === undefined ? '' : `, service ${service}`}`;
  const project = labels?.[LABEL.composeProject];
  if (project !== undefined) return `docker compose project ${project}`;
  return 'no Capstan instance (it was made by hand or another tool)';
}

/** The first path below `base` (exclusive) up to `path` (inclusive) that is a symbolic link; undefined when none is (missing parts are not links). */
async function symlinkBelow(base: string, path: string): Promise<string | undefined> {
  const rel = relative(base, path);
  if (rel.startsWith('..') || isAbsolute(rel)) return path;
  let current = base;
  for (const part of rel.split(sep).filter((p) => p !== '')) {
    current = join(current, part);
    const st = await lstat(current).catch(() => undefined);
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) return current;
  }
  return undefined;
}

function short(id: string): string {
  return id.length === 64 && /^[0-9a-f]+$/.test(id) ? id.slice(0, 12) : id;
}
