// Peer 2: `docker stack deploy --resolve-image never` on a single-node swarm.
// Deploy is asynchronous (the command returns once the service specs are
// stored), so converge time runs from the command's start until every
// service has a running task — polled through the API, bounded. The swarm is
// initialized only when none is active, and left again only if we made it.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';
import { docker, swarmState } from './engine.js';
import type { Contender } from './results.js';
import { CHANGED_SERVICE, SERVICE_COUNT, stackYaml } from './stack.js';
import { waitUntil } from './timing.js';

export interface SwarmHandle {
  /** True when this bench ran `docker swarm init` and so must leave it. */
  initializedHere: boolean;
  /** `swarm init` creates docker_gwbridge and `swarm leave` keeps it: remove it only if init made it. */
  gwbridgeMadeHere: boolean;
}

const GWBRIDGE = 'docker_gwbridge';

async function hasGwbridge(): Promise<boolean> {
  return (await docker.listNetworks({ filters: { name: [GWBRIDGE] } })).some((n) => n.Name === GWBRIDGE);
}

export async function ensureSwarm(): Promise<SwarmHandle> {
  const state = await swarmState();
  if (state === 'active') return { initializedHere: false, gwbridgeMadeHere: false };
  if (state !== 'inactive') throw new Error(`swarm is "${state}"; not touching it`);
  const gwbridgeBefore = await hasGwbridge();
  await run('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1'], { timeoutMs: 60_000 });
  return { initializedHere: true, gwbridgeMadeHere: !gwbridgeBefore };
}

export async function leaveSwarm(handle: SwarmHandle): Promise<void> {
  if (handle.initializedHere) await run('docker', ['swarm', 'leave', '--force'], { timeoutMs: 60_000 });
  handle.initializedHere = false;
  if (handle.gwbridgeMadeHere) {
    handle.gwbridgeMadeHere = false;
    // Right after `leave` the ingress sandbox may still hold an endpoint on it. On engine 20.10 that
    // endpoint sometimes leaks for good (moby/moby#37018) and only a daemon restart frees it, which a
    // bench must not do; the leftover bridge is harmless and reused by the next `swarm init`.
    await waitUntil(`${GWBRIDGE} removable (moby/moby#37018: it may keep a leaked endpoint; remove it after the next engine restart)`, async () => {
      if (!(await hasGwbridge())) return true;
      return (await run('docker', ['network', 'rm', GWBRIDGE], { timeoutMs: 30_000, allowFailure: true })).code === 0;
    }, { timeoutMs: 10_000, intervalMs: 500 });
  }
}

const stackLabel = (stack: string) => `com.docker.stack.namespace=${stack}`;

/** Running task ids per service name of the stack. */
async function runningTasks(stack: string): Promise<Map<string, string[]>> {
  const services = await docker.listServices({ filters: { label: [stackLabel(stack)] } });
  const names = new Map(services.map((s) => [s.ID ?? '', s.Spec?.Name ?? '']));
  const tasks = await docker.listTasks({ filters: { 'desired-state': ['running'] } });
  const out = new Map<string, string[]>([...names.values()].map((n) => [n, []]));
  for (const t of tasks as { ID?: string; ServiceID?: string; Status?: { State?: string } }[]) {
    const name = names.get(t.ServiceID ?? '');
    if (name !== undefined && t.Status?.State === 'running') out.get(name)?.push(t.ID ?? '');
  }
  return out;
}

async function allRunning(stack: string): Promise<boolean> {
  const tasks = await runningTasks(stack);
  return tasks.size === SERVICE_COUNT && [...tasks.values()].every((ids) => ids.length === 1);
}

/** Wait until the stack's services, containers and network are all gone, so a redeploy starts cold. */
async function removeStack(stack: string): Promise<void> {
  if ((await swarmState()) !== 'active') return;
  await run('docker', ['stack', 'rm', stack], { allowFailure: true, timeoutMs: 60_000 });
  await waitUntil(`stack ${stack} removed`, async () => {
    const filters = { label: [stackLabel(stack)] };
    const [services, containers, networks] = await Promise.all([
      docker.listServices({ filters }),
      docker.listContainers({ all: true, filters }),
      docker.listNetworks({ filters }),
    ]);
    return services.length + containers.length + networks.length === 0;
  }, { timeoutMs: 90_000, intervalMs: 200 });
}

/**
 * `untilUpdateCompleted`: a change counts as done when Swarm says its update
 * completed (after update_config.monitor), not when the new task runs: what
 * Capstan's swarm backend waits for before it calls a change applied.
 */
export async function createSwarm(dir: string, stack: string, opts: { untilUpdateCompleted?: boolean } = {}): Promise<Contender> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'docker-compose.yml');
  const deploy = () => run('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', file, stack], { timeoutMs: 120_000 });
  const notes = new Set<string>();
  const changed = `${stack}_${CHANGED_SERVICE}`;
  let generation = 0;
  await writeFile(file, stackYaml(generation));

  return {
    name: 'swarm',
    notes,
    async cold() {
      await removeStack(stack);
      const started = performance.now();
      await deploy();
      await waitUntil(`swarm stack ${stack} running`, () => allRunning(stack), { timeoutMs: 120_000, intervalMs: 50 });
      return performance.now() - started;
    },
    // Nothing to wait for after a no-op redeploy, as long as it left every task alone.
    async noop() {
      const before = await runningTasks(stack);
      const { ms } = await deploy();
      const after = await runningTasks(stack);
      if (JSON.stringify([...before].sort()) !== JSON.stringify([...after].sort())) notes.add('swarm: a no-op redeploy replaced tasks');
      return [ms];
    },
    async change() {
      const old = new Set((await runningTasks(stack)).get(changed) ?? []);
      generation += 1;
      await writeFile(file, stackYaml(generation));
      const started = performance.now();
      await deploy();
      await waitUntil(`swarm service ${changed} updated`, async () => {
        const ids = (await runningTasks(stack)).get(changed) ?? [];
        if (ids.length !== 1 || old.has(ids[0] ?? '')) return false;
        if (opts.untilUpdateCompleted !== true) return true;
        const [service] = await docker.listServices({ filters: { name: [changed] } });
        return service?.UpdateStatus?.State === 'completed';
      }, { timeoutMs: 120_000, intervalMs: 50 });
      const ms = performance.now() - started;
      if (!(await allRunning(stack))) notes.add('swarm: not every service running right after the change');
      return ms;
    },
    dispose: () => removeStack(stack),
  };
}
