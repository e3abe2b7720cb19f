// Takes the one snapshot of a pass: containers, networks and volumes that
// carry this instance's label, listed in parallel with label filters (three
// list calls; an inspect only for containers that are not running, whose last
// run feeds crash-loop backoff, and for those Docker reports unhealthy, whose
// check output status shows — a pass where everything runs healthy inspects
// nothing) and mapped to ObservedState. The router container is left out: it
// belongs to no stack, so the planner would prune it. Errors are left to the
// caller.

import type Docker from 'dockerode';
import { LABEL, ROUTER_ROLE } from '../desired/labels.js';
import { specHash } from '../desired/spec-hash.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import type { ContainerInspectInfo, ContainerInfo, NetworkInspectInfo, VolumeInspectInfo } from 'dockerode';
import type { ContainerState, HealthcheckRun, LastRun, ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume } from './model.js';

/** The three list calls a snapshot needs; a narrow type so tests can pass a fake. */
export type SnapshotClient = Pick<Docker, 'listContainers' | 'listNetworks' | 'listVolumes' | 'getContainer'>;

export function instanceFilter(instance: string, stack?: string): { label: string[] } {
  return { label: [`${LABEL.instance}=${instance}`, ...(stack === undefined ? [] : [`${LABEL.stack}=${stack}`])] };
}

/** Everything `instance` owns, or only `stack`'s objects; volumes only when asked for (listing them is the slowest call). */
export async function takeSnapshot(docker: SnapshotClient, instance: string, stack?: string, withVolumes = true): Promise<ObservedState> {
  const filters = instanceFilter(instance, stack);
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    withVolumes ? docker.listVolumes({ filters }) : { Volumes: [] },
  ]);
  // The engine filters by label already; filtering again keeps the ownership
  // promise even against an engine (or fake) that ignores a filter.
  const owned = (labels: Record<string, string> | null | undefined): boolean => labels?.[LABEL.instance] === instance && (stack === undefined || labels[LABEL.stack] === stack);
  const mapped = containers.filter((c) => owned(c.Labels) && c.Labels[LABEL.role] !== ROUTER_ROLE).map(toObservedContainer);
  const inspected = await Promise.all(mapped.map((c) => withInspectedState(docker, c)));
  return {
    instance,
    containers: inspected.sort(byName),
    networks: networks.filter((n) => owned(n.Labels)).map(toObservedNetwork).sort(byName),
    // The engine answers `Volumes: null`, not [], when none match.
    volumes: (volumes.Volumes ?? []).filter((v) => owned(v.Labels)).map(toObservedVolume).sort(byName),
  };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const STATES: ReadonlySet<string> = new Set<ContainerState>(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

/** The engine's state word; an unknown one is treated as dead: something to replace, never to keep. */
export function parseState(word: string): ContainerState {
  return STATES.has(word) ? (word as ContainerState) : 'dead';
}

export function toObservedContainer(info: ContainerInfo): ObservedContainer {
  const labels = info.Labels ?? {};
  const name = (info.Names[0] ?? info.Id).replace(/^\//, '');
  const ip = firstAddress(info);
  return {
    id: info.Id,
    name,
    stack: labels[LABEL.stack] ?? labels[LABEL.composeProject] ?? '',
    service: labels[LABEL.service] ?? labels[LABEL.composeService] ?? '',
    number: parseNumber(labels[LABEL.composeNumber]),
    specHash: currentSpecHash(labels),
    revision: labels[LABEL.revision] ?? '',
    state: parseState(info.State),
    health: parseHealth(info.Status),
    labels,
    image: info.Image,
    ip,
    lastRun: undefined,
    healthcheck: undefined,
  };
}

/**
 * The hash of what the container was made from, as this version defines it:
 * recomputed from its spec label, so a change of what the hash covers (say,
 * x-capstan leaving it) never makes every container look changed. Without a
 * readable label, the hash label as written.
 */
function currentSpecHash(labels: Readonly<Record<string, string>>): string {
  const spec = decodeSpecLabel(labels);
  return spec === undefined ? labels[LABEL.specHash] ?? '' : specHash(spec);
}

/** The list call already carries each network's address, so the router table needs no inspect. */
function firstAddress(info: ContainerInfo): string | undefined {
  const networks = info.NetworkSettings?.Networks ?? {};
  for (const key of Object.keys(networks).sort()) {
    const ip = networks[key]?.IPAddress;
    if (ip !== undefined && ip !== '') return ip;
  }
  return undefined;
}

async function withInspectedState(docker: SnapshotClient, c: ObservedContainer): Promise<ObservedContainer> {
  if (c.state === 'running' && c.health !== 'unhealthy') return c;
  const state = await inspectState(docker, c.id);
  if (state === undefined) return c;
  return c.state === 'running' ? { ...c, healthcheck: lastHealthcheck(state) } : { ...c, lastRun: lastRun(state) };
}

/** A container removed between list and inspect has nothing to report. */
async function inspectState(docker: SnapshotClient, id: string): Promise<ContainerInspectInfo['State'] | undefined> {
  try {
    return (await docker.getContainer(id).inspect()).State;
  } catch (err) {
    if ((err as { statusCode?: unknown }).statusCode === 404) return undefined;
    throw err;
  }
}

function lastRun(State: ContainerInspectInfo['State']): LastRun | undefined {
  const startedAt = Date.parse(State.StartedAt);
  const finishedAt = Date.parse(State.FinishedAt);
  // A container never started reports the zero time (year 1): no run yet.
  if (!(startedAt > 0) || !(finishedAt > 0)) return undefined;
  return { startedAt, finishedAt, exitCode: State.ExitCode, oomKilled: State.OOMKilled };
}

function lastHealthcheck(State: ContainerInspectInfo['State']): HealthcheckRun | undefined {
  const last = State.Health?.Log?.at(-1);
  if (last === undefined) return undefined;
  return { exitCode: last.ExitCode, output: last.Output.trim().replace(/\s*\n\s*/g, ' | ').slice(-200) };
}

/**
 * Replica slots start at 1; 0 marks a container whose number label is missing
 * or garbled, so the planner sees it as surplus rather than as a replica.
 */
function parseNumber(value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value)) return 0;
  return Number(value);
}

/** Health from the list call's Status text ("Up 3 seconds (healthy)", "Up 1 second (health: starting)"), so no inspect is needed. */
export function parseHealth(status: string | undefined): ObservedContainer['health'] {
  if (status === undefined) return undefined;
  if (status.includes('(health: starting)')) return 'starting';
  if (status.includes('(unhealthy)')) return 'unhealthy';
  if (status.includes('(healthy)')) return 'healthy';
  return undefined;
}

export function toObservedNetwork(info: NetworkInspectInfo): ObservedNetwork {
  const labels = info.Labels ?? {};
  return { id: info.Id, name: info.Name, stack: labels[LABEL.stack] ?? labels[LABEL.composeProject] ?? '', labels };
}

export function toObservedVolume(info: VolumeInspectInfo): ObservedVolume {
  const labels = info.Labels ?? {};
  return { name: info.Name, stack: labels[LABEL.stack] ?? labels[LABEL.composeProject] ?? '', labels };
}
