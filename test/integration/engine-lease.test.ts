// Issue 14 item 4 for operators that share only the engine: two `capstan run`
// of one instance on different data dirs, both with --engine-lease. The first
// holds the lease container; the second waits for it, and takes over when
// kill -9 of the first makes the engine end and remove the lease.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCapstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-lease');
const stack = instance.replace(/-/g, '');
const lease = `capstan-lease-${instance}`;
const dirs = [mkdtempSync(join(tmpdir(), 'capstan-lease-a-')), mkdtempSync(join(tmpdir(), 'capstan-lease-b-'))];
let git: TestGitServer;
let repo: TestRepo;
const logs = ['', ''];
const daemons: ChildProcess[] = [];
const explain = (): string => `first:\n${logs[0] ?? ''}\nsecond:\n${logs[1] ?? ''}`;

function startDaemon(i: 0 | 1, port: number): ChildProcess {
  const d = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dirs[i] ?? '', '--interval', '1s', '--listen', `127.0.0.1:${port}`,
    '--router', 'none', '--status-branch', 'none', '--engine-lease', '--lease-image', TEST_IMAGE], (text) => (logs[i] += text));
  daemons.push(d);
  return d;
}

const leaseHolder = async (): Promise<string> => (await exec('docker', ['inspect', '--format', '{{index .Config.Labels "io.capstan.lease-holder"}}', lease])).stdout.trim();

beforeAll(async () => {
  git = await startTestGitServer();
  repo = await git.createRepo('infra');
});

afterAll(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  await exec('docker', ['rm', '-f', lease]).catch(() => undefined);
  await cleanupInstance(instance);
  await git.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the engine lease', () => {
  it('lets one of two operators on different data dirs lead, and the other take over after kill -9', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': `name: ${stack}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ["sleep", "3600"]\n` }, 'one service');
    const [portA, portB] = [await freePort(), await freePort()];
    const a = startDaemon(0, portA);
    await eventually(async () => ((await request(portA, { path: '/readyz' })).status === 200 ? true : undefined), 60_000, explain);
    expect(await leaseHolder()).toMatch(new RegExp(`^pid ${a.pid ?? 0} on `));

    const b = startDaemon(1, portB);
    await eventually(async () => (logs[1]?.includes(`leads it (lease container ${lease} on`) ? true : undefined), 20_000, explain);
    expect((await request(portB, { path: '/readyz' })).status).toBe(503);

    a.kill('SIGKILL');
    await eventually(async () => (logs[1]?.includes(`took over instance ${instance}`) ? true : undefined), 30_000, explain);
    await eventually(async () => ((await request(portB, { path: '/readyz' })).status === 200 ? true : undefined), 60_000, explain);
    expect(await leaseHolder()).toMatch(new RegExp(`^pid ${b.pid ?? 0} on `));

    // A clean stop gives the lease back at once.
    b.kill('SIGTERM');
    await new Promise((resolve) => b.once('exit', resolve));
    await eventually(async () => ((await exec('docker', ['ps', '-aq', '--filter', `name=^${lease}$`])).stdout.trim() === '' ? true : undefined), 20_000, explain);
  });
});
