// `capstan run --router process` as a user runs it: the daemon starts the
// router, pushes the table after its passes (round-robin over 3 replicas on
// the HTTP entry and the published port, which the replicas do not bind), and the router keeps serving when the operator is killed;
// a restarted operator reuses it instead of starting another, and starts
// a new one (serving the persisted table) when the router itself dies.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { countBy, freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const instance = uniqueInstance('t-rrun');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-rrun-'));
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let l4Port: number;
let logs = '';
const daemons: ChildProcess[] = [];

// Each replica answers with its own hostname (the container id), so bodies tell replicas apart.
const manifest = (): string => `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    deploy: { replicas: 3 }
    ports: ["127.0.0.1:${l4Port}:80"]
    x-capstan: { route: { path: / } }
`;

function startDaemon(): ChildProcess {
  const d = spawn(process.execPath, [BIN, 'run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
  d.stdout?.on('data', (b: Buffer) => (logs += b.toString()));
  d.stderr?.on('data', (b: Buffer) => (logs += b.toString()));
  daemons.push(d);
  return d;
}

async function eventually<T>(check: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms; daemon logs:\n${logs}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Bounded load: `clients` loops of sequential requests until `stop`; counts answers by body and failures. */
async function load(clients: number, stop: { done: boolean }, maxRequests: number): Promise<{ ok: number; failed: string[] }> {
  const failed: string[] = [];
  let ok = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    for (let i = 0; i < maxRequests && !stop.done; i++) {
      try {
        const r = await request(l4Port);
        if (r.status === 200) ok++;
        else failed.push(`${r.status} ${r.body.slice(0, 80)}`);
      } catch (err) {
        failed.push(String(err));
      }
    }
  }));
  return { ok, failed };
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  l4Port = await freePort();
});

afterAll(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  try {
    process.kill(Number(readFileSync(join(dataDir, 'router', 'router.pid'), 'utf8')), 'SIGTERM');
  } catch {
    // no router was started
  }
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan run --router process', () => {
  it('round-robins over 3 replicas, keeps serving through kill -9 of the operator, and comes back with its table when the router dies', async () => {
    await repo.commitFiles({ 'stacks/web.yaml': manifest() }, 'three replicas behind a route');
    const first = startDaemon();
    const spread = await eventually(async () => {
      const bodies: string[] = [];
      for (let i = 0; i < 30; i++) bodies.push((await request(httpPort)).body.trim());
      const counts = countBy(bodies);
      return Object.keys(counts).length === 3 ? counts : undefined;
    }, 60_000);
    expect(Object.values(spread)).toEqual([10, 10, 10]);
    // The published port is the router's L4 listener, balancing connections; the replicas bind no host port.
    const l4 = countBy(await Promise.all(Array.from({ length: 30 }, async (_, i) => { await new Promise((r) => setTimeout(r, i * 5)); return (await request(l4Port)).body.trim(); })));
    expect(Object.keys(l4).sort()).toEqual(Object.keys(spread).sort());
    const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Ports}}']);
    expect(stdout).not.toContain(String(l4Port));

    const stop = { done: false };
    const running = load(4, stop, 2000);
    await new Promise((r) => setTimeout(r, 500));
    first.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1500));
    // A new operator finds the router answering and takes it over.
    startDaemon();
    await eventually(async () => (logs.includes('reusing the router already serving') ? true : undefined), 20_000);
    stop.done = true;
    const result = await running;
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(0);

    // The router itself dies: the operator starts a new one, which serves the persisted table again.
    const pidFile = join(dataDir, 'router', 'router.pid');
    const oldPid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(oldPid, 'SIGKILL');
    await eventually(async () => (Number(readFileSync(pidFile, 'utf8')) !== oldPid && (await request(l4Port)).status === 200 ? true : undefined), 30_000);
    expect(logs).toContain('the router does not answer on its admin socket; starting one');
  });
});
