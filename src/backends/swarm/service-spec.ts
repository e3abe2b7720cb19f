// Pure translation of a desired service into Swarm's service spec, as
// `docker stack deploy` would send it, plus Capstan's ownership labels
// (DESIGN §3) on the service and on its tasks' containers. No I/O: secret and
// config ids are looked up through the function the caller passes.
//
// What Swarm cannot run (a privileged container, a build on the operator's
// machine, a bind of the operator's checkout) is listed by swarmProblems()
// before anything is planned, so a stack either deploys whole or not at all.

import type { MountSettings, ServiceSpec as SwarmServiceSpec, TaskRestartPolicy, UpdateConfig as SwarmUpdateConfig } from 'dockerode';
import { LABEL } from '../../desired/labels.js';
import type { DesiredService } from '../../desired/model.js';
import { encodeSpecLabel } from '../../desired/spec-label.js';
import { bindConfigs, STACK_NAMESPACE_LABEL, swarmFileName, swarmServiceName } from '../../desired/swarm-names.js';
import type { MountedFile, MountSpec, ServiceSpec, UpdateConfig } from '../../manifests/model.js';
import { effectiveOrder } from '../../strategies/rolling.js';
import { engineName, healthConfig } from '../docker/container-spec.js';

export interface SwarmSpecContext {
  instance: string;
  revision: string;
  /** The id of a secret or config this pass created or found, by kind and name. */
  fileId: (kind: 'secret' | 'config', name: string) => string;
}

const ns = (ms: number): number => ms * 1_000_000;

/**
 * The labels on each task's container: who owns it and which spec it runs.
 * Any spec change changes them, so Swarm replaces the tasks (as the docker
 * backend recreates containers); the revision is left out, or every commit
 * would restart every service.
 */
function ownerLabels(service: DesiredService, instance: string): Record<string, string> {
  return {
    [STACK_NAMESPACE_LABEL]: service.stack,
    [LABEL.instance]: instance,
    [LABEL.stack]: service.stack,
    [LABEL.service]: service.name,
    [LABEL.specHash]: service.specHash,
  };
}

export function swarmServiceSpec(service: DesiredService, ctx: SwarmSpecContext): SwarmServiceSpec {
  const spec = service.spec;
  const swarm = spec.swarm ?? {};
  const containerLabels = { ...spec.labels, ...ownerLabels(service, ctx.instance) };
  const hostPorts = spec.ports.some((p) => p.published !== undefined && p.mode === 'host');
  const out: SwarmServiceSpec = {
    Name: swarmServiceName(service.stack, service.name),
    // The user's deploy.labels, then ours, which win so ownership cannot be spoofed by a manifest.
    Labels: { ...spec.deployLabels, ...ownerLabels(service, ctx.instance), [LABEL.revision]: ctx.revision, [LABEL.spec]: encodeSpecLabel(spec) },
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Labels: containerLabels,
        Env: Object.keys(spec.environment).sort().map((k) => `${k}=${spec.environment[k] ?? ''}`),
        ...(spec.entrypoint === undefined ? {} : { Command: [...spec.entrypoint] }),
        ...(spec.command === undefined ? {} : { Args: [...spec.command] }),
        ...(spec.hostname === undefined ? {} : { Hostname: spec.hostname }),
        ...(spec.workingDir === undefined ? {} : { Dir: spec.workingDir }),
        ...(spec.user === undefined ? {} : { User: spec.user }),
        ...(spec.init === undefined ? {} : { Init: spec.init }),
        ...(spec.tty ? { TTY: true } : {}),
        ...(spec.stdinOpen ? { OpenStdin: true } : {}),
        ...(spec.readOnly ? { ReadOnly: true } : {}),
        ...(spec.stopSignal === undefined ? {} : { StopSignal: spec.stopSignal }),
        ...(spec.stopGracePeriodMs === undefined ? {} : { StopGracePeriod: ns(spec.stopGracePeriodMs) }),
        ...(spec.healthcheck === undefined ? {} : { HealthCheck: healthConfig(spec.healthcheck) }),
        // Swarm's hosts file lines are "IP host", Compose's extra_hosts "host:IP".
        ...(spec.extraHosts.length === 0 ? {} : { Hosts: spec.extraHosts.map(hostsLine) }),
        ...(spec.dns.length === 0 ? {} : { DNSConfig: { Nameservers: [...spec.dns] } }),
        ...(Object.keys(spec.sysctls).length === 0 ? {} : { Sysctls: { ...spec.sysctls } }),
        ...(spec.capAdd.length === 0 ? {} : { CapabilityAdd: [...spec.capAdd] }),
        ...(spec.capDrop.length === 0 ? {} : { CapabilityDrop: [...spec.capDrop] }),
        ...(Object.keys(spec.ulimits).length === 0 ? {} : { Ulimits: Object.entries(spec.ulimits).map(([Name, u]) => ({ Name, Soft: u.soft, Hard: u.hard })) }),
        Mounts: mounts(service, ctx),
        Secrets: (spec.secrets ?? []).map((f) => {
          const name = swarmFileName(service.stack, f);
          return { SecretName: name, SecretID: ctx.fileId('secret', name), File: fileTarget(f, '/run/secrets/') };
        }),
        // Relative binds of tracked files are configs on a swarm (the bind itself is left out of Mounts).
        Configs: [...(spec.configs ?? []), ...bindConfigs(spec)].map((f) => {
          const name = swarmFileName(service.stack, f);
          return { ConfigName: name, ConfigID: ctx.fileId('config', name), File: fileTarget(f, '/') };
        }),
      },
      Resources: {
        Limits: {
          ...(spec.resources.nanoCpus === undefined ? {} : { NanoCPUs: spec.resources.nanoCpus }),
          ...(spec.resources.memoryBytes === undefined ? {} : { MemoryBytes: spec.resources.memoryBytes }),
          ...(spec.resources.pids === undefined ? {} : { Pids: spec.resources.pids }),
        },
        Reservations: {
          ...(swarm.reservations?.nanoCpus === undefined ? {} : { NanoCPUs: swarm.reservations.nanoCpus }),
          ...(swarm.reservations?.memoryBytes === undefined ? {} : { MemoryBytes: swarm.reservations.memoryBytes }),
        },
      },
      RestartPolicy: restartPolicy(service),
      Placement: {
        ...(swarm.placement?.constraints.length ? { Constraints: [...swarm.placement.constraints] } : {}),
        ...(swarm.placement?.preferences.length ? { Preferences: swarm.placement.preferences.map((d) => ({ Spread: { SpreadDescriptor: d } })) } : {}),
        ...(swarm.placement?.maxReplicasPerNode === undefined ? {} : { MaxReplicas: swarm.placement.maxReplicasPerNode }),
      },
      Networks: spec.networks.map((n) => ({ Target: engineName(service.engineNames.networks, n), Aliases: [service.name, ...(spec.networkAliases[n] ?? [])] })),
      ...(spec.logging === undefined ? {} : { LogDriver: { Name: spec.logging.driver ?? 'json-file', Options: { ...spec.logging.options } } }),
    },
    Mode: spec.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: spec.replicas } },
    UpdateConfig: updateConfig(spec.update, hostPorts),
    RollbackConfig: updateConfig(spec.rollback, hostPorts),
    EndpointSpec: {
      Mode: swarm.endpointMode ?? 'vip',
      Ports: spec.ports.filter((p) => p.published !== undefined).map((p) => ({
        Protocol: p.protocol,
        TargetPort: p.target,
        PublishedPort: p.published,
        PublishMode: p.mode ?? 'ingress',
      })),
    },
  };
  return out;
}

/** Swarm's update and rollback config; start-first cannot bind a host-mode port twice on one node, so such services update stop-first. */
function updateConfig(u: UpdateConfig, hostPorts: boolean): SwarmUpdateConfig {
  return {
    Parallelism: u.parallelism,
    Delay: ns(u.delayMs),
    FailureAction: u.failureAction,
    Monitor: ns(u.monitorMs),
    MaxFailureRatio: u.maxFailureRatio,
    Order: effectiveOrder(u, hostPorts),
  };
}

/**
 * deploy.restart_policy as written, else Swarm's default (any), as `docker
 * stack deploy` does: it ignores the service-level `restart:`, which on a
 * swarm would mean a task lost with its node is never replaced.
 */
function restartPolicy(service: DesiredService): TaskRestartPolicy {
  const r = service.spec.swarm?.restartPolicy;
  if (r === undefined) return { Condition: 'any' };
  return {
    Condition: r.condition,
    ...(r.delayMs === undefined ? {} : { Delay: ns(r.delayMs) }),
    ...(r.maxAttempts === undefined ? {} : { MaxAttempts: r.maxAttempts }),
    ...(r.windowMs === undefined ? {} : { Window: ns(r.windowMs) }),
  };
}

/** A mount as Swarm's API takes it: source and options only where they mean something. */
interface SwarmMount {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  VolumeOptions?: { Labels: Record<string, string> };
  TmpfsOptions?: { SizeBytes: number };
}

function mounts(service: DesiredService, ctx: Pick<SwarmSpecContext, 'instance'>): MountSettings[] {
  const volumeLabels = { [STACK_NAMESPACE_LABEL]: service.stack, [LABEL.instance]: ctx.instance, [LABEL.stack]: service.stack };
  const out: SwarmMount[] = service.spec.volumes.filter((m) => !(m.type === 'bind' && m.relative)).map((m: MountSpec): SwarmMount => {
    switch (m.type) {
      case 'bind':
        // Relative binds are configs (bindConfigs) or refused (swarmProblems): an absolute one is the node's own path.
        return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly };
      case 'volume':
        // Swarm creates a named volume on each node a task lands on, with these labels. An empty source is an anonymous one.
        return m.source === ''
          ? { Type: 'volume', Target: m.target, ReadOnly: m.readOnly }
          : { Type: 'volume', Source: engineName(service.engineNames.volumes, m.source), Target: m.target, ReadOnly: m.readOnly, VolumeOptions: { Labels: volumeLabels } };
      case 'tmpfs':
        return { Type: 'tmpfs', Target: m.target, ReadOnly: m.readOnly };
    }
  });
  for (const [target, options] of Object.entries(service.spec.tmpfs)) {
    const size = /(?:^|,)size=(\d+)/.exec(options)?.[1];
    out.push({ Type: 'tmpfs', Target: target, ...(size === undefined ? {} : { TmpfsOptions: { SizeBytes: Number(size) } }) });
  }
  // dockerode's type wants every field of a mount; the engine takes these partial ones as the CLI sends them.
  return out as MountSettings[];
}

/** Secrets live under /run/secrets/ in Swarm: a target there is given by its name, any other path as it is. */
function fileTarget(f: MountedFile, home: string): { Name: string; UID: string; GID: string; Mode: number } {
  const name = f.target.startsWith(home) ? f.target.slice(home.length) : f.target;
  return { Name: name, UID: String(f.uid), GID: String(f.gid), Mode: f.mode };
}

function hostsLine(entry: string): string {
  const at = entry.indexOf(':');
  return at < 0 ? entry : `${entry.slice(at + 1)} ${entry.slice(0, at)}`;
}

/** What a service sets that Swarm cannot run, each with what to do instead. Empty when it can run as written. */
export function swarmProblems(service: DesiredService): { key: string; why: string }[] {
  const spec: ServiceSpec = service.spec;
  const out: { key: string; why: string }[] = [];
  const no = (key: string, why: string): void => void out.push({ key, why });
  if (spec.build !== undefined) no('build', 'Swarm nodes cannot use an image built on the operator\'s machine; build and push it to a registry, then name it in `image:`');
  for (const m of spec.volumes) {
    // Validation refuses data directories on a swarm with their line; a bind made before tracked and data sources were told apart is caught here.
    if (m.type === 'bind' && m.relative && m.content === undefined) {
      no(`volumes ${m.source}:${m.target}`, 'a relative bind of a data directory lives on the operator\'s disk, which Swarm\'s nodes cannot see; use a named volume');
    }
  }
  for (const p of spec.ports) if (p.hostIp !== '') no(`ports ${p.hostIp}:${p.published ?? ''}:${p.target}`, 'Swarm publishes on every address of a node; remove the host IP');
  if (spec.containerName !== undefined) no('container_name', 'Swarm names tasks itself (<stack>_<service>.<slot>); remove it');
  if (spec.privileged) no('privileged', 'Swarm services cannot be privileged; grant the capabilities needed with cap_add');
  if (spec.devices.length > 0) no('devices', 'Swarm services cannot map devices');
  if (spec.networkMode !== undefined) no('network_mode', 'Swarm services join networks; use `networks:`');
  if (spec.pid !== undefined) no('pid', 'Swarm services cannot share a PID namespace');
  if (spec.ipc !== undefined) no('ipc', 'Swarm services cannot share an IPC namespace');
  if (spec.shmSizeBytes !== undefined) no('shm_size', 'Swarm services have no shm_size; mount a tmpfs at /dev/shm instead');
  if (spec.securityOpt.length > 0) no('security_opt', 'Swarm services have no security_opt');
  if (spec.runtime !== undefined) no('runtime', 'Swarm services run with the nodes\' default runtime');
  // Canary on Swarm (a second service sized by the weight ratio) is not built yet; blue-green and autoscale need Capstan's router and replicas.
  if (spec.capstan.strategy !== 'rolling') no('x-capstan.strategy', `${spec.capstan.strategy} runs on the docker backend only for now; on Swarm, use rolling (Swarm's update_config)`);
  if (spec.capstan.autoscale !== undefined) no('x-capstan.autoscale', 'autoscale runs on the docker backend only; on Swarm, set deploy.replicas');
  return out;
}
