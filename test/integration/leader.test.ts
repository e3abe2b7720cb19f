// Issue 14 items 4 and 2 end to end: two real `capstan run` of the same
// instance on one data dir. The second waits (says so, /readyz 503) while the
// first leads; kill -9 of the leader hands the lead to the second, while the
// router keeps serving the stack's published port without a failed request.
// Both report deploys as commit statuses (to a local server that checks
// GitHub's documented request shape) and JSON notifications: the first for
// the commit it deployed, the new leader for the next one.

import { type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { instanceContainers, routedReplicasManifest, uniqueInstance } from '../helpers/docker.js';
import { startForgeServer, type ForgeServer, type ReceivedRequest } from '../helpers/forge-server.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually, underLoad } from '../helpers/load.js';
import { freePort, request } from '../helpers/net.js';

const TOKEN = 'forge-token-never-logged';
const instance = uniqueInstance('t-leader');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-leader-'));
let git: TestGitServer;
let repo: TestRepo;
let forge: ForgeServer;
let httpPort: number;
let l4Port: number;
const logs = { a: '', b: '' };
const daemons: ChildProcess[] = [];
const explain = (): string => `leader logs:\n${logs.a}\nfollower logs:\n${logs.b}\nforge received: ${JSON.stringify(forge.received.map((r) => r.body))}\nviolations: ${JSON.stringify(forge.violations)}`;

function startDaemon(name: 'a' | 'b', listenPort: number): ChildProcess {
  const d = spawnCapstan([
    'run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', `127.0.0.1:${listenPort}`, '--http-port', String(httpPort),
    '--status-branch', 'none', '--commit-status', 'github', '--forge-api', `${forge.url}/github`, '--forge-repo', 'acme/infra', '--notify-webhook', `${forge.url}/webhook`,
  ], (text) => (logs[name] += text), { CAPSTAN_FORGE_TOKEN: TOKEN });
  daemons.push(d);
  return d;
}

const statuses = (sha: string): string[] => forge.received.filter((r: ReceivedRequest) => r.provider === 'github' && r.path.endsWith(sha)).map((r) => `${String(r.body['context'])} ${String(r.body['state'])}`);

beforeAll(async () => {
  git = await startTestGitServer();
  repo = await git.createRepo('infra');
  forge = await startForgeServer(TOKEN);
  httpPort = await freePort();
  l4Port = await freePort();
});

afterAll(async () => {
  await tearDownDaemons({ daemons: daemons, dataDir, instance, servers: [forge, git] });
});

describe('one leader per instance', () => {
  it('a second operator waits, not ready, and takes over on kill -9 of the leader while the router keeps serving', async () => {
    const first = await repo.commitFiles({ 'stacks/web.yaml': routedReplicasManifest(stack, l4Port) }, 'three replicas');
    const [portA, portB] = [await freePort(), await freePort()];
    const a = startDaemon('a', portA);
    await eventually(async () => ((await request(portA, { path: '/readyz' })).status === 200 ? true : undefined), 60_000, explain);
    await eventually(async () => ((await request(l4Port)).status === 200 ? true : undefined), 30_000, explain);

    startDaemon('b', portB);
    await eventually(async () => (logs.b.includes(`waiting to lead instance ${instance}`) ? true : undefined), 20_000, explain);
    expect(logs.b).toMatch(new RegExp(`pid ${a.pid ?? 0} on \\S+ since \\S+ leads it`));
    const standby = await request(portB, { path: '/readyz' });
    expect(standby.status).toBe(503);
    expect(JSON.parse(standby.body)).toMatchObject({ ready: false, reason: expect.stringContaining('waiting to lead') as unknown });
    expect((await request(portB, { path: '/healthz' })).status).toBe(200);
    // The follower touches nothing: the leader's containers are the only ones.
    expect(await instanceContainers(instance)).toHaveLength(3);

    const load = await underLoad(l4Port, async () => {
      a.kill('SIGKILL');
      await eventually(async () => (logs.b.includes(`took over instance ${instance}`) ? true : undefined), 20_000, explain);
      await eventually(async () => ((await request(portB, { path: '/readyz' })).status === 200 ? true : undefined), 60_000, explain);
    });
    expect(load.failed).toEqual([]);
    expect(load.ok).toBeGreaterThan(0);
    expect(logs.b).toContain('reusing the router already serving');

    // The new leader deploys the next commit and reports it.
    const second = await repo.commitFiles({ 'stacks/web.yaml': routedReplicasManifest(stack, l4Port).replace('replicas: 3', 'replicas: 2') }, 'two replicas');
    await eventually(async () => ((await instanceContainers(instance)).length === 2 ? true : undefined), 60_000, explain);
    const context = `capstan/${instance}/${stack}`;
    const convergedOf = (sha: string): boolean => forge.received.some((r) => r.provider === 'webhook' && r.body['kind'] === 'deploy.converged' && r.body['revision'] === sha);
    await forge.waitFor(() => statuses(second).includes(`${context} success`) && convergedOf(second), 30_000);
    expect(statuses(first)).toEqual([`${context} pending`, `${context} success`]);
    expect(statuses(second)).toEqual([`${context} pending`, `${context} success`]);
    const converged = forge.received.filter((r) => r.provider === 'webhook' && r.body['kind'] === 'deploy.converged');
    expect(converged.map((r) => r.body['revision'])).toEqual([first, second]);
    expect(forge.violations).toEqual([]);
    expect(logs.a + logs.b).not.toContain(TOKEN);
  });
});
