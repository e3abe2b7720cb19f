// Issue 12's canary as a user sees it, through `capstan run` and its router:
// each step's share of requests goes to the new version (bodies counted),
// `capstan promote` moves a manual step on, an operator restarted during a
// pause resumes the same step and share, the last step serves every request
// from the new version with no request failed on the way; a canary that
// answers 500 is aborted by its analysis with the numbers in status and
// traffic back on the stable version; `capstan abort` does the same by hand;
// with `sticky: true` a client that got the canary keeps it.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { capstan, spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually, loadLoop } from '../helpers/load.js';
import { countBy, freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-canary');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-canary-'));
const PATH = '/cgi-bin/app';
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let listen: string;
let logs = '';
let daemon: ChildProcess | undefined;

/** Each replica answers `release-<n>` on /cgi-bin/app, with HTTP `status`. */
function manifest(release: number, status = 200): string {
  const cgi = `#!/bin/sh\\nprintf 'Status: ${status} X\\\\r\\\\nContent-Type: text/plain\\\\r\\\\n\\\\r\\\\nrelease-${release}\\\\n'\\n`;
  return `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf \\"${cgi}\\" > /www/cgi-bin/app && chmod +x /www/cgi-bin/app && echo ok > /www/healthz && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    deploy:
      replicas: 4
      update_config: { parallelism: 2, monitor: 1s, order: start-first }
    x-capstan:
      route: { path: /, sticky: true }
      probe: { http: { path: /healthz, port: 80 }, interval: 200ms, failure_threshold: 2 }
      progress_deadline: 20s
      strategy: canary
      canary:
        steps: [ { weight: 25, pause: manual }, { weight: 50, pause: manual }, { weight: 100 } ]
        analysis: { interval: 1s, max_error_rate: 0.05, min_requests: 10 }
`;
}

function startDaemon(): void {
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', listen, '--http-port', String(httpPort)], (text) => (logs += text));
}

const daemonLogs = (): string => `daemon logs:\n${logs.slice(-8000)}`;

/** Releases answering `n` sequential requests without a cookie. */
async function shares(n: number): Promise<Record<string, number>> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) bodies.push((await request(httpPort, { path: PATH })).body.trim());
  return countBy(bodies);
}

interface Progress { service: string; strategy: string; batch: number; phase: string; weight?: number; awaitingPromotion?: boolean }

async function progress(): Promise<Progress | undefined> {
  const res = await fetch(`http://${listen}/api/status`, { headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'api.token'), 'utf8').trim()}` } });
  const body = (await res.json()) as { progress: Progress[] };
  return body.progress.find((p) => p.service === 'web');
}

/** Waits until the canary pauses at step `step` (1-based) waiting for promote. */
async function pausedAt(step: number): Promise<Progress> {
  return eventually(async () => {
    const p = await progress();
    return p?.batch === step && p.awaitingPromotion === true ? p : undefined;
  }, 90_000, async () => `progress ${JSON.stringify(await progress().catch(() => undefined))}; ${daemonLogs()}`);
}

async function canaries(): Promise<string[]> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--filter', 'label=io.capstan.slot=canary', '--format', '{{.Names}}']);
  return stdout.split('\n').filter((l) => l !== '').sort();
}

async function degraded(): Promise<{ reason: string; message: string } | undefined> {
  const text = await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`).catch(() => '');
  const doc = parse(text) as { conditions?: { type: string; reason: string; message: string }[] } | null;
  return doc?.conditions?.find((c) => c.type === 'Degraded');
}

function expectShare(counts: Record<string, number>, release: string, n: number, weight: number): void {
  // Binomial spread at n=200: a 15-point band is many standard deviations wide, and still tells 25 % from 50 % from 100 %.
  const share = ((counts[release] ?? 0) / n) * 100;
  expect(share, JSON.stringify(counts)).toBeGreaterThan(weight - 15);
  expect(share, JSON.stringify(counts)).toBeLessThan(weight + 15);
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  listen = `127.0.0.1:${await freePort()}`;
  await repo.commitFiles({ 'stacks/web.yaml': manifest(1) }, 'release 1');
  startDaemon();
  await eventually(async () => ((await shares(20))['release-1'] === 20 ? true : undefined), 60_000, daemonLogs);
});

afterAll(async () => {
  await tearDownDaemons({ daemons: [daemon], dataDir, instance, servers: [server] });
});

describe('canary releases behind the router', () => {
  it('gives each step its share, moves on with `capstan promote`, resumes the same step after an operator restart, and fails no request', async () => {
    const stop = { done: false };
    const load = loadLoop(httpPort, 2, stop, 20_000, PATH);
    await repo.commitFiles({ 'stacks/web.yaml': manifest(2) }, 'release 2');

    await pausedAt(1);
    expectShare(await shares(200), 'release-2', 200, 25);
    expect(await canaries()).toEqual([`${stack}-web-1-canary`]);

    // Sticky: a client the router sent to the canary stays there.
    const sticky = await eventually(async () => {
      const r = await request(httpPort, { path: PATH });
      return r.body.trim() === 'release-2' ? String(r.headers['set-cookie']?.[0] ?? '').split(';')[0] : undefined;
    }, 10_000, daemonLogs);
    const kept = await Promise.all(Array.from({ length: 10 }, () => request(httpPort, { path: PATH, headers: { cookie: sticky } })));
    expect(kept.map((r) => r.body.trim())).toEqual(Array.from({ length: 10 }, () => 'release-2'));

    const promoted = await capstan(['promote', `${stack}/web`, '--listen', listen, '--data-dir', dataDir]);
    expect(promoted.stdout).toContain('promoted past step 1 (25%)');
    expect(promoted.code).toBe(0);
    await pausedAt(2);
    expect(await canaries()).toEqual([`${stack}-web-1-canary`, `${stack}-web-2-canary`]);

    // The operator goes away mid-pause; the router keeps the split, and the new operator resumes step 2.
    daemon?.kill('SIGTERM');
    await new Promise<void>((resolve) => daemon?.once('exit', () => resolve()));
    expectShare(await shares(200), 'release-2', 200, 50);
    startDaemon();
    expect((await pausedAt(2)).weight).toBe(50);
    expectShare(await shares(200), 'release-2', 200, 50);

    expect((await capstan(['promote', `${stack}/web`, '--listen', listen, '--data-dir', dataDir])).code).toBe(0);
    await eventually(async () => ((await shares(40))['release-2'] === 40 && (await canaries()).length === 0 && (await progress()) === undefined ? true : undefined), 90_000, daemonLogs);
    stop.done = true;
    const seen = await load;
    expect(seen.failed).toEqual([]);
    expect(logs).toMatch(/canary of \S+\/web promoted/);
  });

  it('aborts a canary that answers 500 on its analysis: traffic back on the stable version, canaries removed, CanaryFailed with the numbers', async () => {
    // Users keep asking: the analysis judges what they get.
    const stop = { done: false };
    const load = loadLoop(httpPort, 2, stop, 20_000, PATH);
    await repo.commitFiles({ 'stacks/web.yaml': manifest(3, 500) }, 'release 3 (answers 500)');
    const condition = await eventually(async () => {
      const d = await degraded();
      return d?.reason === 'CanaryFailed' ? d : undefined;
    }, 90_000, daemonLogs).finally(() => (stop.done = true));
    const seen = await load;
    // Only the canary's share failed, and only until the abort.
    expect(seen.failed.length).toBeLessThan(seen.ok);
    expect(condition.message).toMatch(/canary analysis failed at 25%: error rate 100 % > 5 % \(\d+ of \d+ requests\)/);
    expect((await shares(40))['release-2']).toBe(40);
    expect(await canaries()).toEqual([]);
  });

  it('aborts by `capstan abort`, and refuses to promote what has no canary step', async () => {
    await repo.commitFiles({ 'stacks/web.yaml': manifest(4) }, 'release 4');
    await pausedAt(1);
    const aborted = await capstan(['abort', `${stack}/web`, '--listen', listen, '--data-dir', dataDir]);
    expect([aborted.code, aborted.stdout.trim()]).toEqual([0, `${stack}/web: aborted`]);
    await eventually(async () => ((await canaries()).length === 0 && (await shares(20))['release-2'] === 20 ? true : undefined), 30_000, daemonLogs);
    const again = await capstan(['promote', `${stack}/web`, '--listen', listen, '--data-dir', dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`cannot promote ${stack}/web: ${stack}/web has no canary step to promote`);
    const d = await eventually(async () => {
      const x = await degraded();
      return x?.message.includes('aborted by `capstan abort`') === true ? x : undefined;
    }, 30_000, daemonLogs);
    expect(d.reason).toBe('CanaryFailed');
  });
});
