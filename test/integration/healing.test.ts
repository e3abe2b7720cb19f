// Self-healing of a running daemon, as a user sees it: with a poll interval
// of an hour only Docker events can bring a replica back, so kill, rm -f and
// stop must each be healed within a bounded wait, and /metrics counts them; a
// crash-looping service is restarted with backoff (few starts in a window)
// and reported as CrashLoop — in the status file, /api/status and `capstan
// status`, without a status commit per crash — next to a failing probe with
// its output; an operator restart after kill -9 leaves running containers
// untouched; without the daemon, `capstan status` reads the status branch.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGet, capstan, loggedApi } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const instance = uniqueInstance('t-heal');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-heal-'));
let server: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess | undefined;
let logs = '';
/** When the first daemon started (s), for the engine's events since. */
let daemonStartedAt = 0;

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

const daemonLogs = (): string => `daemon logs:\n${logs.slice(-6000)}`;

const api = (): string => loggedApi(logs);

/** The status branch as the Git server holds it. */
async function statusCommits(): Promise<number> {
  return Number(await runGit(repo.bareDir, 'rev-list', '--count', 'capstan/status'));
}

interface StatusFile {
  conditions: { type: string; reason: string; message: string }[];
  services: Record<string, { replicas: { desired: number; running: number; ready: number }; unhealthy?: { replica: string; probe: string; output: string }[]; crashLoop?: { replica: string; exitCode: number; lastLogLines: string[] } }>;
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
    daemonStartedAt = Math.floor(Date.now() / 1000);
    daemon = startDaemon();
    const before = await eventually(webUp, 60_000, daemonLogs);

    await docker('kill', `${stack}-web-2`);
    await eventually(async () => ((await runningIds()).get(`${stack}-web-2`) === before.get(`${stack}-web-2`) ? true : undefined), 30_000, daemonLogs);
    expect(logs).toContain(`drift: container ${stack}-web-2 was stopped (exit code 137)`);

    await docker('rm', '-f', `${stack}-web-1`);
    const replaced = await eventually(async () => {
      const id = (await runningIds()).get(`${stack}-web-1`);
      return id !== undefined && id !== before.get(`${stack}-web-1`) ? id : undefined;
    }, 30_000, daemonLogs);
    expect(replaced).not.toBe(before.get(`${stack}-web-1`));
    expect(logs).toContain('replica 1 is missing');

    await docker('stop', '-t', '5', `${stack}-web-2`);
    await eventually(async () => ((await runningIds()).has(`${stack}-web-2`) ? true : undefined), 30_000, daemonLogs);
  });

  it('counts restarts by reason, failed probes and heal durations in /metrics', async () => {
    // A heal ends when a pass sees the replacement ready, just after it started.
    const metrics = await eventually(async () => {
      const text = await (await apiGet(api(), '/metrics', dataDir)).text();
      return /^capstan_heal_duration_seconds_count [3-9]/m.test(text) ? text : undefined;
    }, 15_000, daemonLogs);
    for (const reason of ['crashed', 'missing', 'stopped']) {
      expect(metrics).toMatch(new RegExp(`^capstan_replica_restarts_total\\{stack="${stack}",service="web",reason="${reason}"\\} 1$`, 'm'));
    }
    expect(metrics).toMatch(new RegExp(`^capstan_replica_restarts_total\\{stack="${stack}",service="crash",reason="crashed"\\} [1-9]`, 'm'));
    expect(metrics).toMatch(/^capstan_probe_failures_total [1-9]/m);
    expect(Number(/^capstan_heal_duration_seconds_sum (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('restarts a crash-looping replica with backoff and reports CrashLoop with exit code and log lines', async () => {
    // The daemon has been restarting `crash` since it started. Each restart waits at least the
    // backoff after the crash before it (0 after the first, then 1 s doubling): gaps between
    // starts can only be longer under load, never shorter, so this holds on a busy machine too.
    const starts = async (): Promise<number[]> => {
      const out = await docker('events', '--since', String(daemonStartedAt), '--until', String(Math.ceil(Date.now() / 1000)), '--filter', `container=${stack}-crash-1`, '--filter', 'event=start', '--format', '{{.TimeNano}}');
      return out.split('\n').filter((l) => l !== '').map((n) => Number(BigInt(n) / 1_000_000n));
    };
    const seen = await eventually(async () => { const s = await starts(); return s.length >= 5 ? s : undefined; }, 60_000, daemonLogs);
    const gaps = seen.slice(1).map((t, i) => t - (seen[i] ?? t));
    gaps.slice(1).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(1000 * 2 ** i - 50));
    expect(logs).toMatch(/"reason":"CrashLoop"/);
    expect(logs).toMatch(/"exitCode":3/);
    expect(logs).toMatch(/"logs":\["boom-\d+"/);

    // A crash is not a status commit: one more crash and restart leave the branch as it was.
    const commits = await statusCommits();
    const count = seen.length;
    await eventually(async () => ((await starts()).length > count ? true : undefined), 60_000, daemonLogs);
    expect(await statusCommits()).toBe(commits);
  });

  it('reports the crash loop and the failing probe in the status file, /api/status and capstan status', async () => {
    const file = parse(await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`)) as StatusFile;
    expect(file.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ reason: 'CrashLoop', message: expect.stringContaining(`${stack}-crash-1 is crash-looping (exit code 3)`) });
    expect(file.services['crash']).toMatchObject({ replicas: { desired: 1, running: 0, ready: 0 }, crashLoop: { replica: `${stack}-crash-1`, exitCode: 3 } });
    expect(file.services['crash']?.crashLoop?.lastLogLines[0]).toMatch(/^boom-\d+$/);
    expect(file.services['unready']).toMatchObject({ replicas: { desired: 1, running: 1, ready: 0 }, unhealthy: [{ replica: `${stack}-unready-1`, probe: 'http GET :80/missing', output: 'HTTP 404' }] });

    const status = (await (await apiGet(api(), '/api/status', dataDir)).json()) as { stacks: StatusFile[]; health: { service: string; reason: string; live: { message: string; crashes: number } }[] };
    expect(status.stacks[0]?.services['crash']?.crashLoop?.replica).toBe(`${stack}-crash-1`);
    expect(status.stacks[0]?.services['unready']?.unhealthy?.[0]?.output).toBe('HTTP 404');
    // What changes every crash is in the API only.
    const crash = status.health.find((h) => h.service === 'crash');
    expect(crash).toMatchObject({ reason: 'CrashLoop', live: { message: expect.stringMatching(new RegExp(`^${stack}-crash-1 (is crash-looping|restarted after) `)) } });
    expect(crash?.live.crashes).toBeGreaterThanOrEqual(2);

    const shown = await capstan(['status', '--listen', api().replace('http://', ''), '--instance', instance, '--data-dir', dataDir, '--repo', repo.url, '--log-level', 'warn']);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(3);
    const url = `${api()}/api/status`.replace(/[.]/g, '\\.');
    expect(shown.stdout.split('\n')[0]).toMatch(new RegExp(`^From the daemon at ${url} \\(last pass \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\):$`));
    expect(shown.stdout).toMatch(new RegExp(`^${stack}\\s+False\\s+`, 'm'));
    expect(shown.stdout).toMatch(new RegExp(`^${stack}/crash: ${stack}-crash-1 (is crash-looping|restarted after)`, 'm'));
    expect(shown.stdout).toMatch(/^ {2}\| boom-\d+$/m);
    expect(shown.stdout).toContain(`${stack}/unready: ${stack}-unready-1 fails http GET :80/missing: HTTP 404`);
  });

  it('a probe on a missing path marks the service not ready; a failing liveness probe replaces the replica in its slot', async () => {
    await eventually(async () => (/"service":"unready","status":"Degraded","reason":"Unready"/.test(logs) ? true : undefined), 30_000, daemonLogs);
    expect(logs).toContain('unready: 0/1 replicas ready');

    const before = await eventually(async () => ((await runningIds()).get(`${stack}-live-1`)), 30_000, daemonLogs);
    await eventually(async () => (/"service":"live","status":"Healthy"/.test(logs) ? true : undefined), 30_000, daemonLogs);
    await docker('exec', `${stack}-live-1`, 'rm', '/www/healthz');
    const replaced = await eventually(async () => {
      const id = (await runningIds()).get(`${stack}-live-1`);
      return id !== undefined && id !== before ? id : undefined;
    }, 30_000, daemonLogs);
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
    const before = await eventually(webUp, 30_000, daemonLogs);
    const exited = new Promise((resolve) => daemon?.once('exit', resolve));
    daemon?.kill('SIGKILL');
    await exited;
    const mark = logs.length;
    daemon = startDaemon();
    // The restarted daemon has made its first pass once it reports the crash loop again.
    await eventually(async () => (logs.slice(mark).includes('CrashLoop') ? true : undefined), 60_000, daemonLogs);
    const after = await runningIds();
    expect(after.get(`${stack}-web-1`)).toBe(before.get(`${stack}-web-1`));
    expect(after.get(`${stack}-web-2`)).toBe(before.get(`${stack}-web-2`));
    expect(after.get(`${stack}-live-1`)).toBe(before.get(`${stack}-live-1`));
  });

  it('without a daemon, capstan status reads the status branch, and says so', async () => {
    const address = api().replace('http://', '');
    const exited = new Promise((resolve) => daemon?.once('exit', resolve));
    daemon?.kill('SIGTERM');
    await exited;
    const shown = await capstan(['status', '--listen', address, '--instance', instance, '--repo', repo.url, '--log-level', 'warn']);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(3);
    expect(shown.stdout.split('\n')[0]).toBe(`From capstan/status of ${repo.url}:`);
    expect(shown.stdout).toContain(`${stack}/crash: ${stack}-crash-1 is crash-looping (exit code 3)`);

    const none = await capstan(['status', '--listen', address, '--instance', instance, '--status-branch', 'none']);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(`capstan: no daemon answers at http://${address}/api/status (ECONNREFUSED), and --status-branch is none: there is no status to read`);
  });
});
