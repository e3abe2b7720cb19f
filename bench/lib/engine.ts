// The bench's own view of the engine, through the API socket rather than the
// docker CLI: polling for "all 20 running" every 50 ms with `docker ps`
// would fork a Go binary per poll and steal one of the two cores from the
// thing being measured. Also the cleanup: everything the bench made is found
// by a label or name the bench chose, and removed one by one — never a prune.

import Docker from 'dockerode';

export const docker = new Docker();

export type LabelFilter = string; // "key=value"

export async function runningContainers(label: LabelFilter): Promise<number> {
  const list = await docker.listContainers({ filters: { label: [label], status: ['running'] } });
  return list.length;
}

export async function containersByLabel(label: LabelFilter): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [label] } });
}

/** Force-remove every container carrying `label` (in parallel: cleanup is not measured). */
export async function removeContainers(label: LabelFilter): Promise<number> {
  const list = await containersByLabel(label);
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(ignore404)));
  return list.length;
}

export async function removeNetworks(label: LabelFilter): Promise<number> {
  const list = await docker.listNetworks({ filters: { label: [label] } });
  for (const n of list) await docker.getNetwork(n.Id).remove().catch(ignore404);
  return list.length;
}

/** Names the bench's stacks would take, already held by something: refuse to start rather than collide. */
export async function takenNames(names: readonly string[]): Promise<string[]> {
  const all = await docker.listContainers({ all: true });
  const want = new Set(names);
  return all.flatMap((c) => c.Names.map((n) => n.replace(/^\//, ''))).filter((n) => want.has(n));
}

/** Services carrying `label` that have a running task (the swarm's "converged", seen from a manager). */
export async function runningServices(label: LabelFilter): Promise<number> {
  const services = await docker.listServices({ filters: { label: [label] } });
  if (services.length === 0) return 0;
  const tasks = (await docker.listTasks({ filters: { service: services.map((s) => s.ID), 'desired-state': ['running'] } })) as { ServiceID?: string; Status?: { State?: string } }[];
  return new Set(tasks.filter((t) => t.Status?.State === 'running').map((t) => t.ServiceID)).size;
}

/** Removes the services and networks carrying `label` and waits until the manager lists none, so a cold round starts cold. */
export async function removeServices(label: LabelFilter): Promise<void> {
  for (const s of await docker.listServices({ filters: { label: [label] } })) await docker.getService(s.ID).remove().catch(ignore404);
  const deadline = performance.now() + 90_000;
  for (;;) {
    const [services, networks] = await Promise.all([docker.listServices({ filters: { label: [label] } }), docker.listNetworks({ filters: { label: [label] } })]);
    // A network refuses removal while tasks of its services still stop.
    for (const n of networks) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    if (services.length + networks.length === 0) return;
    if (performance.now() > deadline) throw new Error(`services or networks with ${label} still listed after 90 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function swarmState(): Promise<string> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string } };
  return info.Swarm?.LocalNodeState ?? 'inactive';
}

function ignore404(err: unknown): void {
  const status = (err as { statusCode?: number }).statusCode;
  if (status !== 404 && status !== 409) throw err;
}
