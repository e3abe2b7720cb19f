// Self-healing of a running daemon, as a user sees it: with a poll interval
// of an hour only Docker events can bring a replica back, so kill, rm -f and
// stop must each be healed within a bounded wait; a crash-looping service is
// restarted with backoff (few starts in a window) and reported as CrashLoop;
// an operator restart after kill -9 leaves running containers untouched.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const instance = uniqueInstance('t-heal');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-heal-'));
let server: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess | undefined;
let logs = '';

const HTTPD = `["sh", "-c", "mkdir -p /www && echo ok > /www/healthz; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]`;
const manifest = `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    deploy: { replicas: 2 }
  crash:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "echo boom-$$RANDOM; exit 3"]
  live:
    image: ${TEST_IMAGE}
    command: ${HTTPD}
    x-capstan:
      probe: { http: { path: /healthz, port: 80 }, interval: 300ms, timeout: 1s, failure_threshold: 2 }
  taken:
    image: ${TEST_IMAGE}
    command: ["sleep", "3600"]
  unready:
    image: ${TEST_IMAGE}
    command: ${HTTPD}
    x-capstan:
      probe: { http: { path: /missing, port: 80 }, interval: 300ms, failure_threshold: 2 }
`;

async function docker(...args: string[]): Promise<string> {
  return (await exec('docker', args)).stdout.trim();
}

/** name → id of this instance's running containers. */
async function runningIds(): Promise<Map<string, string>> {
  const out = await docker('ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}} {{.ID}}');
  return new Map(out.split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]));
}

async function eventually<T>(check: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms; daemon logs:\n${logs.slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function startDaemon(): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1h', '--listen', '127.0.0.1:0', '--router', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
  return child;
}

const webUp = async (): Promise<Map<string, string> | undefined> => {
  const ids = await runningIds();
  return ids.has(`${stack}-web-1`) && ids.has(`${stack}-web-2`) ? ids : undefined;
};

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  await repo.commitFiles({ 'stacks/app.yaml': manifest }, 'first');
  // A container Capstan does not own, holding the name of a replica it wants.
  await docker('run', '-d', '--name', `${stack}-taken-1`, '--label', `test.owner=${instance}`, TEST_IMAGE, 'sleep', '3600');
});

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await docker('rm', '-f', `${stack}-taken-1`).catch(() => '');
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('self-healing daemon', () => {
  it('brings back a killed, removed and stopped replica from events alone, in the same slot', async () => {
    daemon = startDaemon();
    const before = await eventually(webUp, 60_000);

    await docker('kill', `${stack}-web-2`);
    await eventually(async () => ((await runningIds()).get(`${stack}-web-2`) === before.get(`${stack}-web-2`) ? true : undefined), 30_000);
    expect(logs).toContain(`drift: container ${stack}-web-2 was stopped (exit code 137)`);

    await docker('rm', '-f', `${stack}-web-1`);
    const replaced = await eventually(async () => {
      const id = (await runningIds()).get(`${stack}-web-1`);
      return id !== undefined && id !== before.get(`${stack}-web-1`) ? id : undefined;
    }, 30_000);
    expect(replaced).not.toBe(before.get(`${stack}-web-1`));
    expect(logs).toContain('replica 1 is missing');

    await docker('stop', '-t', '5', `${stack}-web-2`);
    await eventually(async () => ((await runningIds()).has(`${stack}-web-2`) ? true : undefined), 30_000);
  });

  it('restarts a crash-looping replica with backoff and reports CrashLoop with exit code and log lines', async () => {
    // The daemon has been restarting `crash` since it started; count its starts over a window.
    const since = Math.floor(Date.now() / 1000);
    await new Promise((r) => setTimeout(r, 20_000));
    const until = Math.floor(Date.now() / 1000);
    const starts = await docker('events', '--since', String(since), '--until', String(until), '--filter', `container=${stack}-crash-1`, '--filter', 'event=start', '--format', '{{.ID}}');
    const count = starts.split('\n').filter((l) => l !== '').length;
    // Without backoff an event-driven restart of a container that exits at once would start it
    // dozens of times in 20 s; with 1 s doubling it is a handful (and it is still being retried).
    expect(count).toBeLessThanOrEqual(6);
    expect(count).toBeGreaterThanOrEqual(1);
    expect(logs).toMatch(/"reason":"CrashLoop"/);
    expect(logs).toMatch(/"exitCode":3/);
    expect(logs).toMatch(/"logs":\["boom-\d+"/);
  });

  it('a probe on a missing path marks the service not ready; a failing liveness probe replaces the replica in its slot', async () => {
    await eventually(async () => (/"service":"unready","status":"Degraded","reason":"Unready"/.test(logs) ? true : undefined), 30_000);
    expect(logs).toContain('unready: 0/1 replicas ready');

    const before = await eventually(async () => ((await runningIds()).get(`${stack}-live-1`)), 30_000);
    await eventually(async () => (/"service":"live","status":"Healthy"/.test(logs) ? true : undefined), 30_000);
    await docker('exec', `${stack}-live-1`, 'rm', '/www/healthz');
    const replaced = await eventually(async () => {
      const id = (await runningIds()).get(`${stack}-live-1`);
      return id !== undefined && id !== before ? id : undefined;
    }, 30_000);
    expect(replaced).not.toBe(before);
    expect(logs).toContain(`liveness: ${stack}-live-1 failed 2 probes in a row (HTTP 404); replacing it`);
  });

  it('leaves a hand-made container with a colliding name alone and reports it', async () => {
    const foreign = await docker('inspect', '--format', '{{.Id}} {{.State.Running}}', `${stack}-taken-1`);
    expect(foreign.endsWith(' true')).toBe(true);
    expect(logs).toContain(`container name ${stack}-taken-1 is taken by`);
    expect((await docker('inspect', '--format', '{{index .Config.Labels "test.owner"}}', `${stack}-taken-1`))).toBe(instance);
  });

  it('an operator restart after kill -9 recreates nothing that runs', async () => {
    const before = await eventually(webUp, 30_000);
    const exited = new Promise((resolve) => daemon?.once('exit', resolve));
    daemon?.kill('SIGKILL');
    await exited;
    const mark = logs.length;
    daemon = startDaemon();
    // The restarted daemon has made its first pass once it reports the crash loop again.
    await eventually(async () => (logs.slice(mark).includes('CrashLoop') ? true : undefined), 60_000);
    const after = await runningIds();
    expect(after.get(`${stack}-web-1`)).toBe(before.get(`${stack}-web-1`));
    expect(after.get(`${stack}-web-2`)).toBe(before.get(`${stack}-web-2`));
    expect(after.get(`${stack}-live-1`)).toBe(before.get(`${stack}-live-1`));
  });
});
