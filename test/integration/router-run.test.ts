// `capstan run --router process` as a user runs it: the daemon starts the
// router, pushes the table after its passes (round-robin over 3 replicas on
// the HTTP entry and the published port, which the replicas do not bind), and the router keeps serving when the operator is killed;
// a restarted operator reuses it instead of starting another, and starts
// a new one (serving the persisted table) when the router itself dies.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { routedReplicasManifest, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { connectionSpread, eventually, requestSpread, underLoad } from '../helpers/load.js';
import { freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-rrun');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-rrun-'));
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let l4Port: number;
let logs = '';
const daemons: ChildProcess[] = [];

const daemonLogs = (): string => `daemon logs:\n${logs}`;

function startDaemon(): ChildProcess {
  const d = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort)], (text) => (logs += text));
  daemons.push(d);
  return d;
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  l4Port = await freePort();
});

afterAll(async () => {
  await tearDownDaemons({ daemons: daemons, dataDir, instance, servers: [server] });
});

describe('capstan run --router process', () => {
  it('round-robins over 3 replicas, keeps serving through kill -9 of the operator, and comes back with its table when the router dies', async () => {
    await repo.commitFiles({ 'stacks/web.yaml': routedReplicasManifest(stack, l4Port) }, 'three replicas behind a route');
    const first = startDaemon();
    const spread = await requestSpread(httpPort, 30, 3, 60_000, daemonLogs);
    expect(Object.values(spread)).toEqual([10, 10, 10]);
    // The published port is the router's L4 listener, balancing connections; the replicas bind no host port.
    const l4 = await connectionSpread(l4Port, 30);
    expect(Object.keys(l4).sort()).toEqual(Object.keys(spread).sort());
    const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Ports}}']);
    expect(stdout).not.toContain(String(l4Port));

    const result = await underLoad(l4Port, async () => {
      first.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      // A new operator finds the router answering and takes it over.
      startDaemon();
      await eventually(async () => (logs.includes('reusing the router already serving') ? true : undefined), 20_000, daemonLogs);
    });
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(0);

    // The router itself dies: the operator starts a new one, which serves the persisted table again.
    const pidFile = join(dataDir, 'router', 'router.pid');
    const oldPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(oldPid, 'SIGKILL');
    await eventually(async () => (Number(readFileSync(pidFile, 'utf8')) !== oldPid && (await request(l4Port)).status === 200 ? true : undefined), 30_000, daemonLogs);
    expect(logs).toContain('the router does not answer on its admin API; starting one');
  });
});
