// Issue 13 on a real 3-node swarm (scripts/swarm-harness.sh: three dockerd,
// each in a network namespace of its own, one manager and two workers):
// `capstan --backend swarm` deploys a stack of a replicated and a global
// service, plans against the swarm, rolls updates through Swarm, reports a
// failed update Swarm rolled back as a failure, rotates a secret, and follows
// a worker going down and coming back. The kernel here has no IPVS, so the
// stack publishes in `mode: host` and resolves by `dnsrr`, as a user of such
// a kernel would.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan, spawnCapstan } from '../helpers/cli.js';
import { TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { freePort } from '../helpers/net.js';
import { startTestSwarm, type TestSwarm } from '../helpers/swarm.js';

const instance = uniqueInstance('t-swarm');
const stack = 'shop';
// Named per run: other sessions on this machine run this file too, and a harness's `down` removes every node of its name.
const swarmName = `cs-${instance.slice(-8)}`;
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-swarm-'));
let swarm: TestSwarm;
let server: TestGitServer;
let repo: TestRepo;

interface Options {
  release?: string;
  replicas?: number;
  /** A command that fails at once: Swarm's monitor catches it and rolls back. */
  broken?: boolean;
  worker?: boolean;
  /** x-capstan.strategy: canary, one manual step at 30 %, then 100 %. */
  canary?: boolean;
}

function manifest(opts: Options = {}): string {
  const { release = '1', replicas = 3, broken = false, worker = true, canary = false } = opts;
  const serve = `trap 'exit 0' TERM; mkdir -p /www && echo "$$RELEASE $$(hostname)" > /www/index.html && httpd -f -p 80 -h /www & wait`;
  return `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(broken ? 'exit 3' : serve)}]
    environment: { RELEASE: "${release}" }
    stop_grace_period: 2s
    secrets: [token]
    # A file Git tracks: a Swarm config on every node that runs a task.
    volumes: ["./conf/motd:/etc/motd:ro"]
    ports:
      - { target: 80, published: 8080, mode: host }
    deploy:
      replicas: ${replicas}
      endpoint_mode: dnsrr
      placement: { max_replicas_per_node: 1 }
      update_config: { parallelism: 1, monitor: 2s, failure_action: rollback }
      rollback_config: { parallelism: 0, monitor: 1s }
${canary ? `    x-capstan:
      strategy: canary
      canary: { steps: [ { weight: 30, pause: manual }, { weight: 100 } ] }
` : ''}${worker ? `  agent:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    deploy: { mode: global, endpoint_mode: dnsrr }
` : ''}secrets:
  token:
    environment: APP_TOKEN
`;
}

const swarmEnv = (token = 'first'): Record<string, string> => ({ DOCKER_HOST: swarm.dockerHost, APP_TOKEN: token });
const common = (): string[] => ['--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--backend', 'swarm', '--allow-env', 'APP_*', '--log-level', 'warn'];
const apply = (token?: string) => capstan(['apply', ...common()], swarmEnv(token));

/** `<slot or node> <state> <spec-hash label>` of every task Swarm wants running, per service. */
async function tasks(service: string): Promise<{ node: string; state: string }[]> {
  const out = await swarm.docker('service', 'ps', `${stack}_${service}`, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}');
  return out.split('\n').filter((l) => l !== '').map((l) => ({ node: l.split(' ')[0] ?? '', state: l.split(' ')[1] ?? '' }));
}

/** What each node's published port answers (`<RELEASE> <task hostname>`), or '' when nothing listens there. */
async function answers(): Promise<string[]> {
  return Promise.all(swarm.nodes.map(async (n) => {
    try {
      const res = await fetch(`http://${n.ip}:8080/`, { signal: AbortSignal.timeout(2000) });
      return (await res.text()).trim();
    } catch {
      return '';
    }
  }));
}

/** A file in the service's task on the manager (max 1 per node: there is one). */
async function fileIn(service: string, path: string): Promise<string> {
  const id = await swarm.docker('ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_${service}`);
  return swarm.docker('exec', id.split('\n')[0] ?? '', 'cat', path);
}

/** The releases that answer `http://web/` by name from the agent's task on the manager (dnsrr: Swarm's DNS spreads over every task under the alias). */
async function byName(): Promise<string[]> {
  const id = await swarm.docker('ps', '-q', '--filter', `label=com.docker.swarm.service.name=${stack}_agent`);
  const out = await swarm.docker('exec', id.split('\n')[0] ?? '', 'sh', '-c', 'for i in $(seq 16); do timeout 2 wget -qO- http://web/; done; true');
  return out.split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0] ?? '');
}

const secretIn = (service: string): Promise<string> => fileIn(service, '/run/secrets/token');

beforeAll(async () => {
  [swarm, server] = await Promise.all([startTestSwarm(swarmName), startTestGitServer()]);
  repo = await server.createRepo('infra');
});

afterAll(async () => {
  await swarm?.down();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan --backend swarm on a 3-node swarm', () => {
  it('deploys a replicated and a global service as Swarm services, visible to `docker stack`', async () => {
    await repo.commitFiles({ 'stacks/shop.yaml': manifest(), 'stacks/conf/motd': 'tracked in Git\n' }, 'shop');
    const first = await apply();
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('create service shop_web: new service, 3 replicas');
    expect(first.stdout).toContain('create service shop_agent: new global service, one replica per node');

    // Like `docker stack deploy`, apply does not wait for new services' tasks to start.
    const services = async () => (await swarm.docker('stack', 'services', stack, '--format', '{{.Name}} {{.Replicas}}')).split('\n').sort().join(', ');
    await eventually(async () => ((await services()) === 'shop_agent 3/3, shop_web 3/3 (max 1 per node)' ? true : undefined), 60_000, services);
    // Global: one task on each node; replicated with max one per node: one each too, each answering on its node's port.
    expect(new Set((await tasks('agent')).map((t) => t.node)).size).toBe(3);
    await eventually(async () => ((await answers()).every((a) => a.split(' ')[0] === '1') ? true : undefined), 30_000, async () => (await answers()).join(', '));
    expect(await secretIn('web')).toBe('first');
    expect(first.stdout).toMatch(/create config shop_bind\.stacks_conf_motd-[0-9a-f]{12}: config bind\.stacks_conf_motd is not in the swarm yet/);
    expect(await fileIn('web', '/etc/motd')).toBe('tracked in Git');

    const again = await apply();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes');
  });

  it('plans against the swarm: update, scale and remove, each with its cause, without changing anything', async () => {
    // Someone else's service in the stack's namespace: never planned on, never removed.
    await swarm.docker('service', 'create', '--quiet', '--detach', '--name', `${stack}_foreign`, '--label', `com.docker.stack.namespace=${stack}`, '--replicas', '0', '--no-resolve-image', TEST_IMAGE, 'true');
    await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '2', replicas: 2, worker: false }) }, 'plan me');
    const plan = await capstan(['plan', ...common()], swarmEnv());
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('update service shop_web: env changed: RELEASE, scale 3 → 2');
    expect(plan.stdout).toContain('remove service shop_agent: service agent is no longer in stacks/shop.yaml');
    expect(plan.stdout).not.toContain('foreign');
    expect((await answers()).map((a) => a.split(' ')[0])).toEqual(['1', '1', '1']);
  });

  it('rolls an update through Swarm (update_config), one task at a time, to completion', async () => {
    await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '2' }) }, 'release 2');
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('update service shop_web: env changed: RELEASE');
    expect(await swarm.docker('service', 'inspect', `${stack}_web`, '--format', '{{.UpdateStatus.State}}')).toBe('completed');
    expect((await answers()).map((a) => a.split(' ')[0])).toEqual(['2', '2', '2']);
  });

  it('rotates a secret: new content is a new Swarm secret, the service moves to it, the old one is removed', async () => {
    const before = await swarm.docker('secret', 'ls', '--format', '{{.Name}}');
    const result = await apply('second');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/create secret shop_token-[0-9a-f]{12}: secret token has new content/);
    expect(result.stdout).toContain('update service shop_web: secret token content changed');
    expect(result.stdout).toContain(`remove secret ${before}: no service uses this secret any more`);
    const after = await swarm.docker('secret', 'ls', '--format', '{{.Name}}');
    expect(after).not.toBe(before);
    expect(after.split('\n')).toHaveLength(1);
    expect(await secretIn('web')).toBe('second');
    expect(await swarm.docker('service', 'ls', '--filter', `name=${stack}_foreign`, '--format', '{{.Name}}')).toBe(`${stack}_foreign`);
  });

  it('reports an update Swarm rolled back as a failed deploy: apply exits non-zero, status says Degraded, and it is not retried', async () => {
    await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '3', broken: true }) }, 'broken release');
    const failed = await apply('second');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('rolling update of shop/web');
    expect(failed.stderr).toContain('rolled back to the previous spec');
    // Swarm's own reason for the new tasks: usually the exit code; under load a host-mode port still held by an old task can fail them first.
    expect(failed.stderr).toMatch(/new tasks failed: (.*non-zero exit \(3\)|no suitable node \(host-mode port already in use)/);
    expect(await swarm.docker('service', 'inspect', `${stack}_web`, '--format', '{{.UpdateStatus.State}}')).toBe('rollback_completed');
    // What ran before runs again (Swarm calls the rollback complete as its tasks start, a moment before they listen).
    await eventually(async () => ((await answers()).every((a) => a.split(' ')[0] === '2') ? true : undefined), 30_000, async () => (await answers()).join(', '));

    // A port nothing listens on: status comes from the status branch, not from some other daemon on the default port.
    const status = await capstan(['status', ...common(), '--format', 'json', '--listen', `127.0.0.1:${await freePort()}`], swarmEnv('second'));
    expect(status.code).toBe(3);
    const doc = JSON.parse(status.stdout) as { stacks: { stack: string; conditions: { type: string; status: string }[] }[] };
    const conditions = doc.stacks.find((s) => s.stack === stack)?.conditions ?? [];
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'Degraded', status: 'True' }));

    const held = await apply('second');
    expect(held.code).toBe(1);
    expect(held.stderr).toContain('is held');
  });

  it('follows a worker going down and coming back: Swarm reschedules, /api/status shows the node and the service recovering', async () => {
    await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '4', replicas: 2 }) }, 'release 4, 2 replicas');
    const port = await freePort();
    let output = '';
    const token = 'swarm-test-token';
    const daemon: ChildProcess = spawnCapstan(['run', ...common(), '--interval', '1s', '--listen', `127.0.0.1:${port}`, '--status-branch', 'none'], (t) => (output += t), { ...swarmEnv('second'), CAPSTAN_API_TOKEN: token });
    try {
      type ApiStatus = { nodes?: { hostname: string; state: string; tasks: number }[]; health: { service: string; running: number; desired: number; status: string }[] };
      const api = async (): Promise<ApiStatus> => (await (await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as ApiStatus;
      const web = (s: ApiStatus) => s.health.find((h) => h.service === 'web');
      await eventually(async () => ((await api()).nodes?.length === 3 && web(await api())?.status === 'Healthy' ? true : undefined), 90_000, () => output);

      // A node that runs a web task goes down.
      const onNode = new Set((await tasks('web')).map((t) => t.node));
      const victim = [2, 3].find((i) => onNode.has(`${swarmName}-${i}`)) ?? 2;
      await swarm.stopNode(victim);
      const down = await eventually(async () => {
        const s = await api();
        return s.nodes?.find((n) => n.hostname === `${swarmName}-${victim}`)?.state === 'down' ? s : undefined;
      }, 60_000, () => output);
      expect(down.nodes?.filter((n) => n.state === 'ready')).toHaveLength(2);
      // Swarm puts the lost replica on a node still up; status sees the service whole again.
      await eventually(async () => {
        const w = web(await api());
        return w?.status === 'Healthy' && w.running === 2 ? true : undefined;
      }, 90_000, async () => `${output}\n${JSON.stringify(await api())}\n${await swarm.docker('service', 'ps', `${stack}_web`, '--format', '{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}')}`);
      expect(new Set((await tasks('web')).map((t) => t.node)).has(`${swarmName}-${victim}`)).toBe(false);

      await swarm.startNode(victim);
      await eventually(async () => ((await api()).nodes?.every((n) => n.state === 'ready') === true ? true : undefined), 60_000, () => output);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
  });

  it('releases a canary as a second service under the same alias: both versions answer by name, promote updates the stable service and removes the canary, abort removes it (CanaryFailed), and a canary whose task fails is aborted without a word from anyone', async () => {
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const token = 'swarm-canary-token';
    const env = { ...swarmEnv('second'), CAPSTAN_API_TOKEN: token };
    let output = '';
    const daemon: ChildProcess = spawnCapstan(['run', ...common(), '--interval', '1s', '--listen', listen, '--status-branch', 'none'], (t) => (output += t), env);
    type Api = { progress: { service: string; batch: number; awaitingPromotion?: boolean }[]; stacks: { stack: string; conditions: { type: string; status: string; reason: string; message: string }[] }[] };
    const api = async (): Promise<Api> => (await (await fetch(`http://${listen}/api/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as Api;
    const paused = () => eventually(async () => ((await api()).progress.find((p) => p.service === 'web')?.awaitingPromotion === true ? true : undefined), 90_000, () => output);
    const canaryService = async () => swarm.docker('service', 'ls', '--filter', `name=${stack}_web-canary`, '--format', '{{.Name}} {{.Replicas}}');
    const command = (verb: 'promote' | 'abort') => capstan([verb, `${stack}/web`, '--listen', listen, '--data-dir', dataDir], env);
    try {
      await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '5', replicas: 2, canary: true }) }, 'release 5 as a canary');
      await paused();
      // 30 % of 2 replicas: one canary task beside the two stable ones; the published port stays on the stable service.
      await eventually(async () => ((await canaryService()).startsWith(`${stack}_web-canary 1/1`) ? true : undefined), 30_000, canaryService);
      const seen = await eventually(async () => {
        const releases = await byName();
        return releases.includes('4') && releases.includes('5') ? releases : undefined;
      }, 30_000, async () => (await byName()).join(' '));
      expect(seen.filter((r) => r === '5').length).toBeLessThan(seen.length);
      expect((await answers()).filter((a) => a !== '').map((a) => a.split(' ')[0])).toEqual(['4', '4']);

      expect((await command('promote')).code).toBe(0);
      // Promoted: Swarm's rolling update moved the stable service, the canary service is gone.
      await eventually(async () => ((await api()).progress.some((p) => p.service === 'web') || (await canaryService()) !== '' ? undefined : true), 120_000, () => output);
      expect(await swarm.docker('service', 'inspect', `${stack}_web`, '--format', '{{.UpdateStatus.State}}')).toBe('completed');
      await eventually(async () => ((await answers()).filter((a) => a !== '').every((a) => a.split(' ')[0] === '5') ? true : undefined), 30_000, async () => (await answers()).join(', '));
      expect(new Set(await byName())).toEqual(new Set(['5']));

      await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '6', replicas: 2, canary: true }) }, 'release 6 as a canary');
      await paused();
      expect((await command('abort')).code).toBe(0);
      await eventually(async () => {
        const degraded = (await api()).stacks.find((s) => s.stack === stack)?.conditions.find((c) => c.type === 'Degraded' && c.status === 'True');
        return degraded?.reason === 'CanaryFailed' && (await canaryService()) === '' ? true : undefined;
      }, 60_000, async () => `${output}\n${JSON.stringify(await api())}`);
      // The canary's task leaves the alias once Swarm has stopped it (its grace period).
      await eventually(async () => ((await byName()).every((r) => r === '5') ? true : undefined), 30_000, async () => (await byName()).join(' '));

      // A canary whose task cannot start: aborted on Swarm's word about the task, without waiting for a promote; the stable service is untouched.
      const broken = await repo.commitFiles({ 'stacks/shop.yaml': manifest({ release: '7', replicas: 2, canary: true, broken: true }) }, 'release 7 as a canary that exits at once');
      const failed = await eventually(async () => {
        const degraded = (await api()).stacks.find((st) => st.stack === stack)?.conditions.find((c) => c.type === 'Degraded' && c.status === 'True');
        return degraded?.reason === 'CanaryFailed' && degraded.message.includes(broken.slice(0, 7)) && (await canaryService()) === '' ? degraded.message : undefined;
      }, 90_000, async () => `${output}\n${JSON.stringify(await api())}`);
      expect(failed).toMatch(/task (failed|rejected)/);
      expect(await swarm.docker('service', 'inspect', `${stack}_web`, '--format', '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{.}} {{end}}')).toContain('RELEASE=5');
      expect((await answers()).filter((a) => a !== '').map((a) => a.split(' ')[0])).toEqual(['5', '5']);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
  });
});
