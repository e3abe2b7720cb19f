// Push → containers changed, with the webhook: p50/p95 over 20 pushes to a
// running `capstan run` (built binary, real smart-HTTP Git server, real
// Docker, poll interval 1h so only the hook explains the change). Printed
// next to the container start time measured in the same run, to poll-only at
// Capstan's default 30s interval and to Argo CD's documented 3-minute default
// poll (both computed: a push waits interval/2 on average, the full interval
// at worst). Run: npm run bench:webhook (bundled by esbuild, then imported
// through `node -e` so the bundled git-server script does not act as main).

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../test/helpers/docker.js';
import { startTestGitServer } from '../test/helpers/git.js';

const PUSHES = 20;
const SECRET = 'bench-secret';
// From the repository root (npm runs scripts there): the bundle lives elsewhere.
const BIN = resolve('bin/capstan.mjs');
const COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"];

/** One Docker Engine API call over the default unix socket (fast enough to poll every 10 ms). */
function dockerApi(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ socketPath: '/var/run/docker.sock', method, path, headers: data === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text === '' ? null : (JSON.parse(text) as unknown) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function runningRevisions(instance: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`io.capstan.instance=${instance}`], status: ['running'] }));
  const { json } = await dockerApi('GET', `/containers/json?filters=${filters}`);
  return (json as { Labels: Record<string, string> }[]).map((c) => c.Labels['io.capstan.revision'] ?? '');
}

async function until(check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};

/** Create + start of the same container, as the engine does it for a recreate (median of 5). */
async function containerStartMs(instance: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const created = await dockerApi('POST', '/containers/create', { Image: TEST_IMAGE, Cmd: COMMAND, Labels: { 'io.capstan.instance': instance } });
    const id = (created.json as { Id: string }).Id;
    await dockerApi('POST', `/containers/${id}/start`);
    times.push(performance.now() - t);
    await dockerApi('DELETE', `/containers/${id}?force=true`);
  }
  return pct(times, 50);
}

const instance = uniqueInstance('bench-hook');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-bench-'));
const server = await startTestGitServer();
const manifest = (release: number): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ${JSON.stringify(COMMAND)}
    environment: { RELEASE: "${release}" }
`;

const repo = await server.createRepo('bench');
const first = await repo.commitFiles({ 'stacks/app.yaml': manifest(0) }, 'release 0');
let logs = '';
const daemon = spawn(process.execPath, [BIN, 'run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1h', '--listen', '127.0.0.1:0', '--status-branch', 'none'], {
  stdio: ['ignore', 'ignore', 'pipe'],
  env: { ...process.env, CAPSTAN_WEBHOOK_SECRET: SECRET },
});
daemon.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
try {
  await until(async () => /"listen":"http:/.test(logs), 30_000);
  const api = /"listen":"(http:\/\/[^"]+)"/.exec(logs)?.[1] ?? '';
  await until(async () => (await runningRevisions(instance)).includes(first), 60_000);

  const latencies: number[] = [];
  for (let i = 1; i <= PUSHES; i++) {
    const sha = await repo.commitFiles({ 'stacks/app.yaml': manifest(i) }, `release ${i}`);
    // t0: the push has landed, as when a forge sends its hook.
    const t0 = performance.now();
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
    const res = await fetch(`${api}/hooks/github`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` },
    });
    if (res.status !== 202) throw new Error(`hook answered ${res.status}`);
    await until(async () => (await runningRevisions(instance)).includes(sha), 60_000);
    latencies.push(performance.now() - t0);
  }
  const startMs = await containerStartMs(instance);
  const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
  const rows: [string, string, string][] = [
    ['capstan, webhook (measured)', fmt(pct(latencies, 50)), fmt(pct(latencies, 95))],
    ['capstan, poll only, 30s default (computed: interval/2 mean)', fmt(15_000 + pct(latencies, 50)), fmt(28_500 + pct(latencies, 95))],
    ['Argo CD, 3 min default poll (computed: interval/2 mean)', fmt(90_000), fmt(171_000)],
  ];
  console.log(`push → containers changed, ${PUSHES} pushes (one service recreated per push)`);
  console.log(`container create+start on this engine (measured, median of 5): ${fmt(startMs)}; goal: webhook p50 < 1 s + that = ${fmt(1000 + startMs)}`);
  console.log(`${'trigger'.padEnd(62)} ${'p50'.padStart(9)} ${'p95'.padStart(9)}`);
  for (const [name, p50, p95] of rows) console.log(`${name.padEnd(62)} ${p50.padStart(9)} ${p95.padStart(9)}`);
  console.log(`webhook p50 is ${(15_000 / pct(latencies, 50)).toFixed(0)}x faster than the mean wait of a 30s poll, ${(90_000 / pct(latencies, 50)).toFixed(0)}x faster than Argo CD's default poll`);
  console.log(`goal ${pct(latencies, 50) < 1000 + startMs ? 'met' : 'NOT met'}`);
} catch (err) {
  console.error(`benchmark failed; daemon logs:\n${logs}`);
  throw err;
} finally {
  if (daemon.exitCode === null) {
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
  }
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
