// Takes the one snapshot of a pass: containers, networks and volumes that
// carry this instance's label, listed in parallel with label filters (three
// list calls, no per-container inspect) and mapped to ObservedState. Errors
// are left to the caller (the backend maps them to the catalogue).

import type Docker from 'dockerode';
import type { ContainerInfo, NetworkInspectInfo, VolumeInspectInfo } from 'dockerode';
import { LABEL } from '../desired/labels.js';
import type { ContainerState, ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume } from './model.js';

/** The three list calls a snapshot needs; a narrow type so tests can pass a fake. */
export type SnapshotClient = Pick<Docker, 'listContainers' | 'listNetworks' | 'listVolumes'>;

export function instanceFilter(instance: string): { label: string[] } {
  return { label: [`${LABEL.instance}=${instance}`] };
}

export async function takeSnapshot(docker: SnapshotClient, instance: string): Promise<ObservedState> {
  const filters = instanceFilter(instance);
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
  ]);
  // The engine filters by label already; filtering again keeps the ownership
  // promise even against an engine (or fake) that ignores a filter.
  const owned = (labels: Record<string, string> | null | undefined): boolean => labels?.[LABEL.instance] === instance;
  return {
    instance,
    containers: containers.filter((c) => owned(c.Labels)).map(toObservedContainer).sort(byName),
    networks: networks.filter((n) => owned(n.Labels)).map(toObservedNetwork).sort(byName),
    // The engine answers `Volumes: null`, not [], when none match.
    volumes: (volumes.Volumes ?? []).filter((v) => owned(v.Labels)).map(toObservedVolume).sort(byName),
  };
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const STATES: ReadonlySet<string> = new Set<ContainerState>(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']);

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
    specHash: labels[LABEL.specHash] ?? '',
    revision: labels[LABEL.revision] ?? '',
    // An unknown state word is treated as dead: something to replace, never to keep.
    state: STATES.has(info.State) ? (info.State as ContainerState) : 'dead',
    health: parseHealth(info.Status),
    labels,
    ...(ip === undefined ? {} : { ip }),
  };
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
