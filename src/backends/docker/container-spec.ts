// Pure translation of one replica of a desired service into the engine's
// container-create body, following what `docker compose up` would send, plus
// Capstan's ownership labels (DESIGN §3). No I/O: bind sources are only
// resolved here; creating missing ones is the backend's job.

import type { ContainerCreateOptions, EndpointSettings, HealthConfig, HostRestartPolicy, MountSettings, PortBinding } from 'dockerode';
import { isAbsolute, resolve } from 'node:path';
import type { DeployContext } from '../backend.js';
import { LABEL, anonymousVolumeName, replicaName } from '../../desired/labels.js';
import type { DesiredService } from '../../desired/model.js';
import { encodeSpecLabel } from '../../desired/spec-label.js';
import { PortSharedError } from '../../errors.js';
import type { HealthcheckSpec, MountSpec, RestartPolicy, ServiceSpec } from '../../manifests/model.js';
import type { SlotLabel } from '../../strategies/step.js';


export interface ContainerSpecOptions {
  /** Which deployment slot this replica belongs to; rolling updates use `stable`. */
  slot?: SlotLabel;
  /** The container's name when it is not the replica's own (a start-first twin); DNS aliases stay the replica's. */
  name?: string;
  /** Repo digest of the image it is made from (the io.capstan.image-digest label); undefined for local-only images. */
  imageDigest?: string | undefined;
}

/** The labels every replica carries: the user's, then Compose's and Capstan's, which win so ownership cannot be spoofed by a manifest. */
export function containerLabels(service: DesiredService, number: number, ctx: DeployContext, slot: SlotLabel = 'stable', imageDigest?: string): Record<string, string> {
  return {
    ...service.spec.labels,
    [LABEL.composeProject]: service.stack,
    [LABEL.composeService]: service.name,
    [LABEL.composeNumber]: String(number),
    [LABEL.composeConfigHash]: service.specHash,
    'com.docker.compose.oneoff': 'False',
    [LABEL.instance]: ctx.instance,
    [LABEL.stack]: service.stack,
    [LABEL.service]: service.name,
    [LABEL.specHash]: service.specHash,
    [LABEL.revision]: ctx.revision,
    [LABEL.slot]: slot,
    [LABEL.spec]: encodeSpecLabel(service.spec),
    ...(imageDigest === undefined ? {} : { [LABEL.imageDigest]: imageDigest }),
  };
}

export function containerCreateOptions(service: DesiredService, number: number, ctx: DeployContext, opts: ContainerSpecOptions = {}): ContainerCreateOptions {
  const spec = service.spec;
  const name = replicaName(service, number);

  const options: ContainerCreateOptions = {
    name: opts.name ?? name,
    Image: spec.image,
    Env: Object.keys(spec.environment)
      .sort()
      .map((k) => `${k}=${spec.environment[k] ?? ''}`),
    Labels: containerLabels(service, number, ctx, opts.slot ?? 'stable', opts.imageDigest),
    HostConfig: hostConfig(service, number, ctx),
  };
  if (spec.command !== undefined) options.Cmd = [...spec.command];
  if (spec.entrypoint !== undefined) options.Entrypoint = [...spec.entrypoint];
  if (spec.user !== undefined) options.User = spec.user;
  if (spec.workingDir !== undefined) options.WorkingDir = spec.workingDir;
  if (spec.stopSignal !== undefined) options.StopSignal = spec.stopSignal;
  // The engine counts whole seconds; rounding up never cuts a grace period short.
  if (spec.stopGracePeriodMs !== undefined) options.StopTimeout = Math.ceil(spec.stopGracePeriodMs / 1000);
  if (spec.healthcheck !== undefined) options.Healthcheck = healthConfig(spec.healthcheck);
  if (spec.hostname !== undefined) options.Hostname = spec.hostname;
  if (spec.tty) options.Tty = true;
  if (spec.stdinOpen) options.OpenStdin = true;

  const exposed = exposedPorts(spec);
  if (Object.keys(exposed).length > 0) options.ExposedPorts = exposed;

  const endpoints: Record<string, EndpointSettings> = {};
  for (const network of spec.networks) {
    const address = spec.networkAddresses?.[network];
    const ipam = address?.ipv4 !== undefined || address?.ipv6 !== undefined ? { IPAMConfig: { ...(address.ipv4 === undefined ? {} : { IPv4Address: address.ipv4 }), ...(address.ipv6 === undefined ? {} : { IPv6Address: address.ipv6 }) } } : {};
    endpoints[engineName(service.engineNames.networks, network)] = { Aliases: [service.name, name, ...(spec.networkAliases[network] ?? [])], ...ipam, ...(address?.mac === undefined ? {} : { MacAddress: address.mac }) };
  }
  // Engines before API 1.44 take the MAC address of the first network from the container's config only.
  const primaryMac = spec.networks[0] === undefined ? undefined : spec.networkAddresses?.[spec.networks[0]]?.mac;
  if (primaryMac !== undefined) options.MacAddress = primaryMac;
  if (Object.keys(endpoints).length > 0) options.NetworkingConfig = { EndpointsConfig: endpoints };
  return options;
}

function hostConfig(service: DesiredService, number: number, ctx: DeployContext): NonNullable<ContainerCreateOptions['HostConfig']> {
  const spec = service.spec;
  const host: NonNullable<ContainerCreateOptions['HostConfig']> = {
    RestartPolicy: restartPolicy(spec.restart),
  };
  const bindings = portBindings(service, ctx.publishPorts);
  if (Object.keys(bindings).length > 0) host.PortBindings = bindings;
  const mounts = spec.volumes.map((m) => mountSettings(m, service, number, ctx));
  if (mounts.length > 0) host.Mounts = mounts;
  if (spec.resources.memoryBytes !== undefined) host.Memory = spec.resources.memoryBytes;
  if (spec.resources.nanoCpus !== undefined) host.NanoCpus = spec.resources.nanoCpus;
  if (spec.resources.pids !== undefined) host.PidsLimit = spec.resources.pids;
  // The engine picks the first endpoint as the primary network; naming it
  // here keeps `docker inspect` readable and matches Compose.
  const primary = spec.networks[0];
  if (primary !== undefined) host.NetworkMode = engineName(service.engineNames.networks, primary);
  else if (spec.networkMode !== undefined) host.NetworkMode = spec.networkMode;
  if (spec.pid !== undefined) host.PidMode = spec.pid;
  if (spec.ipc !== undefined) host.IpcMode = spec.ipc;
  if (spec.privileged) host.Privileged = true;
  if (spec.capAdd.length > 0) host.CapAdd = [...spec.capAdd];
  if (spec.capDrop.length > 0) host.CapDrop = [...spec.capDrop];
  if (Object.keys(spec.sysctls).length > 0) host.Sysctls = { ...spec.sysctls };
  const ulimits = Object.entries(spec.ulimits);
  if (ulimits.length > 0) host.Ulimits = ulimits.map(([Name, u]) => ({ Name, Soft: u.soft, Hard: u.hard }));
  if (Object.keys(spec.tmpfs).length > 0) host.Tmpfs = { ...spec.tmpfs };
  if (spec.readOnly) host.ReadonlyRootfs = true;
  if (spec.shmSizeBytes !== undefined) host.ShmSize = spec.shmSizeBytes;
  if (spec.init !== undefined) host.Init = spec.init;
  if (spec.extraHosts.length > 0) host.ExtraHosts = [...spec.extraHosts];
  if (spec.dns.length > 0) host.Dns = [...spec.dns];
  if (spec.logging !== undefined) host.LogConfig = { Type: spec.logging.driver ?? '', Config: { ...spec.logging.options } };
  if (spec.runtime !== undefined) host.Runtime = spec.runtime;
  if (spec.securityOpt.length > 0) host.SecurityOpt = [...spec.securityOpt];
  if (spec.devices.length > 0) host.Devices = spec.devices.map((d) => ({ PathOnHost: d.source, PathInContainer: d.target, CgroupPermissions: d.permissions }));
  return host;
}

function restartPolicy(restart: RestartPolicy): HostRestartPolicy {
  return restart === 'on-failure' ? { Name: 'on-failure', MaximumRetryCount: 0 } : { Name: restart };
}

function exposedPorts(spec: ServiceSpec): Record<string, object> {
  const exposed: Record<string, object> = {};
  for (const p of spec.ports) exposed[`${p.target}/${p.protocol}`] = {};
  for (const port of spec.expose) exposed[`${port}/tcp`] = {};
  return exposed;
}

/**
 * Until the router serves published ports (DESIGN §8), a single-replica
 * service publishes on its container, as Compose does. With more replicas a
 * fixed host port could be held by only one of them, so none publishes.
 */
/** With the router, it binds the TCP host ports and containers publish only what it does not serve (UDP, SCTP). */
function portBindings(service: DesiredService, publishTcp: boolean): Record<string, PortBinding[]> {
  const spec = service.spec;
  const bindings: Record<string, PortBinding[]> = {};
  for (const p of spec.ports) {
    if (p.published === undefined || (p.protocol === 'tcp' && !publishTcp)) continue;
    if (spec.replicas > 1) throw new PortSharedError(service.stack, service.name, p.published, spec.replicas);
    const key = `${p.target}/${p.protocol}`;
    (bindings[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.published) });
  }
  return bindings;
}

function mountSettings(m: MountSpec, service: DesiredService, number: number, ctx: DeployContext): MountSettings {
  switch (m.type) {
    case 'bind':
      return { Type: 'bind', Source: bindSource(m, service.stack, ctx), Target: m.target, ReadOnly: m.readOnly };
    case 'volume':
      // An empty source is an anonymous volume: the slot's own, made (labelled) by the backend before the container.
      return { Type: 'volume', Source: m.source === '' ? anonymousVolumeName(service.stack, service.name, number, m.target) : engineName(service.engineNames.volumes, m.source), Target: m.target, ReadOnly: m.readOnly };
    case 'tmpfs':
      return { Type: 'tmpfs', Source: '', Target: m.target, ReadOnly: m.readOnly };
  }
}

/**
 * Absolute host path of a bind mount's source: a data directory under
 * `<data-dir>/binds/<stack>/`, tracked content in the checkout of the
 * revision. Without the directory it needs the plan is wrong, not the manifest.
 */
export function bindSource(m: MountSpec, stack: string, ctx: DeployContext): string {
  if (!m.relative && isAbsolute(m.source)) return m.source;
  if (m.persistent === true) {
    if (ctx.bindsDir === undefined) throw new Error(`bind mount ${m.source} → ${m.target} is a data directory but no binds directory was given`);
    return resolve(ctx.bindsDir, stack, m.source);
  }
  if (ctx.checkoutDir === undefined) {
    throw new Error(`bind mount ${m.source} → ${m.target} is relative but no checkout directory was given for revision ${ctx.revision}`);
  }
  return resolve(ctx.checkoutDir, m.source);
}

/** Host paths this replica bind-mounts, for the backend to check, and create when missing (as Compose does). */
export function bindSources(service: DesiredService, ctx: DeployContext): { mount: MountSpec; source: string }[] {
  return service.spec.volumes.filter((m) => m.type === 'bind').map((mount) => ({ mount, source: bindSource(mount, service.stack, ctx) }));
}

export function healthConfig(h: HealthcheckSpec): HealthConfig {
  const out: HealthConfig = { Test: [...h.test] };
  const ns = (ms: number): number => ms * 1_000_000;
  if (h.intervalMs !== undefined) out.Interval = ns(h.intervalMs);
  if (h.timeoutMs !== undefined) out.Timeout = ns(h.timeoutMs);
  if (h.retries !== undefined) out.Retries = h.retries;
  if (h.startPeriodMs !== undefined) out.StartPeriod = ns(h.startPeriodMs);
  if (h.startIntervalMs !== undefined) out.StartInterval = ns(h.startIntervalMs);
  return out;
}

export function engineName(names: Readonly<Record<string, string>>, local: string): string {
  const name = names[local];
  // buildDesired resolves every name a service uses; a miss is a bug upstream, not a manifest problem.
  if (name === undefined) throw new Error(`no engine name for ${local}`);
  return name;
}
