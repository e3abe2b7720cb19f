// The one snapshot of a swarm pass, taken on a manager: the services,
// overlay networks, secrets and configs carrying this instance's label, the
// tasks of those services, and every node (status reports nodes that are
// down). Six list calls in parallel (tasks are filtered by their service's
// labels); nothing is inspected one by one. Errors are left to the caller.

import type Docker from 'dockerode';
import type { NetworkInspectInfo, Service } from 'dockerode';
import { LABEL } from '../desired/labels.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import type { ObservedNetwork, ObservedNode, ObservedService, ObservedState, ObservedSwarmFile, ObservedTask, SwarmUpdateState } from './model.js';
import { instanceFilter } from './snapshot.js';

export type SwarmSnapshotClient = Pick<Docker, 'listServices' | 'listTasks' | 'listNodes' | 'listNetworks' | 'listSecrets' | 'listConfigs'>;

type Labels = Record<string, string> | null | undefined;

/** The parts of the API's task and node objects read here (dockerode types them as any). */
interface TaskInfo {
  ID?: string;
  ServiceID?: string;
  Slot?: number;
  NodeID?: string;
  DesiredState?: string;
  UpdatedAt?: string;
  Status?: { State?: string; Err?: string; Timestamp?: string };
  Spec?: { ContainerSpec?: { Labels?: Labels } };
}
interface NodeInfo {
  ID?: string;
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string };
  Status?: { State?: string; Addr?: string };
}
interface FileInfo {
  ID?: string;
  Spec?: { Name?: string; Labels?: Labels };
}

/** Everything `instance` owns on the swarm, or (with `stack`) that stack's services, networks, secrets and configs; nodes always. */
export async function takeSwarmSnapshot(docker: SwarmSnapshotClient, instance: string, stack?: string): Promise<ObservedState> {
  const filters = instanceFilter(instance, stack);
  const owned = (labels: Labels): boolean => labels?.[LABEL.instance] === instance;
  // Tasks match a label filter by their service's labels: listed beside the services, not after them (one round trip less per pass).
  const [services, nodes, networks, secrets, configs, listed] = await Promise.all([
    docker.listServices({ filters }),
    docker.listNodes() as Promise<NodeInfo[]>,
    docker.listNetworks({ filters }),
    docker.listSecrets({ filters }) as Promise<FileInfo[]>,
    docker.listConfigs({ filters }) as Promise<FileInfo[]>,
    docker.listTasks({ filters }) as Promise<TaskInfo[]>,
  ]);
  // The engine filters by label already; filtering again keeps the ownership promise even against one that ignores a filter.
  const ours = services.filter((s) => owned(s.Spec?.Labels) && s.Spec?.Labels?.[LABEL.stack] !== undefined && s.Spec.Labels[LABEL.service] !== undefined);
  const ids = new Set(ours.map((s) => s.ID));
  const tasks = listed.filter((t) => ids.has(t.ServiceID ?? ''));
  const byService = new Map<string, ObservedTask[]>();
  for (const t of tasks) {
    const list = byService.get(t.ServiceID ?? '') ?? [];
    list.push(toTask(t));
    byService.set(t.ServiceID ?? '', list);
  }
  const files = [...secrets.map((f) => toFile(f, 'secret')), ...configs.map((f) => toFile(f, 'config'))].filter((f) => owned(f.labels) && f.stack !== '');
  return {
    instance,
    containers: [],
    networks: networks.filter((n) => owned(n.Labels) && n.Scope === 'swarm').map(toNetwork).sort(byName),
    volumes: [],
    swarm: {
      services: ours.map((s) => toService(s, byService.get(s.ID) ?? [])).sort(byName),
      nodes: nodes.map(toNode).sort((a, b) => a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id)),
      files: files.sort(byName),
    },
  };
}

const UPDATE_STATES: readonly SwarmUpdateState[] = ['updating', 'paused', 'completed', 'rollback_started', 'rollback_paused', 'rollback_completed'];

function toService(s: Service, tasks: ObservedTask[]): ObservedService {
  const labels = s.Spec?.Labels ?? {};
  const state = UPDATE_STATES.find((x) => x === s.UpdateStatus?.State);
  const previousHash = s.PreviousSpec?.Labels?.[LABEL.specHash];
  return {
    id: s.ID,
    name: s.Spec?.Name ?? '',
    stack: labels[LABEL.stack] ?? '',
    service: labels[LABEL.service] ?? '',
    version: s.Version?.Index ?? 0,
    specHash: labels[LABEL.specHash] ?? '',
    revision: labels[LABEL.revision] ?? '',
    spec: decodeSpecLabel(labels),
    mode: s.Spec?.Mode?.Global !== undefined ? 'global' : 'replicated',
    replicas: s.Spec?.Mode?.Replicated?.Replicas ?? 0,
    labels,
    update: state === undefined ? undefined : { state, message: s.UpdateStatus?.Message ?? '' },
    changedAt: Math.max(...[s.UpdatedAt, s.UpdateStatus?.StartedAt, s.UpdateStatus?.CompletedAt].map((t) => Date.parse(t ?? '') || 0)),
    previous: previousHash === undefined ? undefined : { specHash: previousHash },
    tasks: tasks.sort((a, b) => a.slot - b.slot || a.nodeId.localeCompare(b.nodeId) || b.at - a.at),
  };
}

function toTask(t: TaskInfo): ObservedTask {
  return {
    id: t.ID ?? '',
    slot: t.Slot ?? 0,
    nodeId: t.NodeID ?? '',
    desiredState: t.DesiredState ?? '',
    state: t.Status?.State ?? '',
    specHash: t.Spec?.ContainerSpec?.Labels?.[LABEL.specHash] ?? '',
    error: t.Status?.Err ?? '',
    at: Date.parse(t.Status?.Timestamp ?? t.UpdatedAt ?? '') || 0,
  };
}

function toNode(n: NodeInfo): ObservedNode {
  return {
    id: n.ID ?? '',
    hostname: n.Description?.Hostname ?? '',
    role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
    state: n.Status?.State ?? 'unknown',
    availability: n.Spec?.Availability ?? 'active',
    addr: n.Status?.Addr ?? '',
  };
}

function toNetwork(n: NetworkInspectInfo): ObservedNetwork {
  const labels = n.Labels ?? {};
  return { id: n.Id, name: n.Name, stack: labels[LABEL.stack] ?? '', labels };
}

function toFile(f: FileInfo, kind: 'secret' | 'config'): ObservedSwarmFile & { labels: Record<string, string> } {
  const labels = f.Spec?.Labels ?? {};
  return { id: f.ID ?? '', kind, name: f.Spec?.Name ?? '', stack: labels[LABEL.stack] ?? '', file: labels[LABEL.file] ?? '', labels };
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
