// Heal time: from killing one replica's process (SIGKILL to its host PID: a
// crash, which every restart mechanism treats alike — `docker kill` counts as
// a manual stop that --restart=always ignores) to a replica answering HTTP
// 200 on its container IP again (Capstan's probe target), p50/p95 over 20
// kills, for Capstan (events + planner), Docker's --restart=always, and
// Docker Swarm's task replacement (single-node swarm; started only if not
// active, left only if started here). Each kill hits a different replica, so
// every kill is a first death (no crash-loop backoff on any side). Polling
// goes through the engine API (dockerode), not the CLI, to keep the clock fair.
// Run: npm run bench:heal (root, local engine). By hand, after npm run build:
//   npx esbuild bench/heal.ts --bundle --platform=node --format=esm --external:dockerode --outfile=bench/.heal.mjs && node bench/.heal.mjs

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { httpOk } from './lib/http-ok.js';

const exec = promisify(execFile);
const KILLS = Number(process.env.KILLS ?? 20);
const IMAGE = 'capstan/busybox:latest';
const HTTPD = "mkdir -p /www && echo ok > /www/healthz; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait";
const id = randomBytes(3).toString('hex');

async function docker(...args: string[]): Promise<string> {
  return (await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
}

const api = new Docker();

/** Running containers matching a label filter: id → IP on its first network. */
async function replicas(filter: string): Promise<Map<string, string>> {
  const list = await api.listContainers({ filters: { label: [filter.replace(/^label=/, '')] } });
  const out = new Map<string, string>();
  for (const c of list) {
    const ip = Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).find((x) => x !== '');
    if (ip !== undefined && c.State === 'running') out.set(c.Id, ip);
  }
  return out;
}

async function crash(containerId: string): Promise<void> {
  const { State } = await api.getContainer(containerId).inspect();
  process.kill(State.Pid, 'SIGKILL');
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms: number, stepMs = 10): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Kills each of `count` replicas once; the heal is done when `count` replicas answer again and a new or restarted one is among them. */
async function measure(name: string, filter: string, count: number): Promise<number[]> {
  const all = await waitFor(`${name}: ${count} replicas`, async () => {
    const r = await replicas(filter);
    if (r.size < count) return undefined;
    const ok = await Promise.all([...r.values()].map(httpOk));
    return ok.every(Boolean) ? r : undefined;
  }, 120_000, 200);
  const times: number[] = [];
  for (const [victim] of [...all].slice(0, KILLS)) {
    const t0 = performance.now();
    await crash(victim);
    await waitFor(`${name}: heal`, async () => {
      const r = await replicas(filter);
      if (r.size < count) return undefined;
      const ok = await Promise.all([...r.values()].map(httpOk));
      return ok.every(Boolean) ? true : undefined;
    }, 60_000);
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 300));
  }
  return times;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function capstan(): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'heal-bench-'));
  const repo = join(dir, 'repo');
  mkdirSync(join(repo, 'stacks'), { recursive: true });
  writeFileSync(join(repo, 'stacks', 'bench.yaml'), `name: healbench${id}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(HTTPD)}]
    deploy: { replicas: ${KILLS} }
    x-capstan:
      probe: { http: { path: /healthz, port: 80 }, interval: 200ms }
`);
  await exec('git', ['init', '-q', '-b', 'main'], { cwd: repo });
  await exec('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'add', '-A'], { cwd: repo });
  await exec('git', ['-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-qm', 'bench'], { cwd: repo });
  const instance = `heal-bench-${id}`;
  const daemon = spawn(process.execPath, [resolve('bin/capstan.mjs'), 'run', '--repo', repo, '--instance', instance, '--data-dir', join(dir, 'data'), '--interval', '1h'], { stdio: 'ignore' });
  try {
    return await measure('capstan', `label=io.capstan.instance=${instance}`, KILLS);
  } finally {
    daemon.kill('SIGTERM');
    const ids = (await docker('ps', '-aq', '--filter', `label=io.capstan.instance=${instance}`)).split('\n').filter(Boolean);
    if (ids.length > 0) await docker('rm', '-f', ...ids);
    const nets = (await docker('network', 'ls', '-q', '--filter', `label=io.capstan.instance=${instance}`)).split('\n').filter(Boolean);
    if (nets.length > 0) await docker('network', 'rm', ...nets);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function restartAlways(): Promise<number[]> {
  const label = `bench.heal.restart=${id}`;
  try {
    for (let i = 0; i < KILLS; i++) await docker('run', '-d', '--restart=always', '--label', label, '--name', `heal-bench-${id}-${i}`, IMAGE, 'sh', '-c', HTTPD);
    return await measure('restart=always', `label=${label}`, KILLS);
  } finally {
    const ids = (await docker('ps', '-aq', '--filter', `label=${label}`)).split('\n').filter(Boolean);
    if (ids.length > 0) await docker('rm', '-f', ...ids);
  }
}

async function swarm(): Promise<number[]> {
  const state = await docker('info', '--format', '{{.Swarm.LocalNodeState}}');
  const initialized = state !== 'active';
  if (initialized) await docker('swarm', 'init', '--advertise-addr', '127.0.0.1');
  const label = `bench.heal.swarm=${id}`;
  const service = `heal-bench-${id}`;
  try {
    // Swarm's defaults, as a user gets them (restart delay 5 s).
    await docker('service', 'create', '-d', '--name', service, '--replicas', String(KILLS), '--no-resolve-image', '--container-label', label, IMAGE, 'sh', '-c', HTTPD);
    return await measure('swarm', `label=${label}`, KILLS);
  } finally {
    await docker('service', 'rm', service).catch(() => '');
    if (initialized) await docker('swarm', 'leave', '--force');
  }
}

const results: [string, number[]][] = [];
for (const [name, run] of [['capstan (events)', capstan], ['docker --restart=always', restartAlways], ['swarm task replacement', swarm]] as const) {
  try {
    results.push([name, await run()]);
  } catch (err) {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
const base = results.find(([n]) => n.startsWith('docker'))?.[1];
console.log(`heal time: SIGKILL of a replica's process → a replica answers HTTP 200 on its IP again, ${KILLS} kills each`);
console.log('system                     p50 ms   p95 ms   p50 vs restart=always');
for (const [name, xs] of results) {
  const ratio = base === undefined ? '' : `${(pct(xs, 50) / pct(base, 50)).toFixed(2)}x`;
  console.log(`${name.padEnd(26)} ${pct(xs, 50).toFixed(0).padStart(6)} ${pct(xs, 95).toFixed(0).padStart(8)}   ${ratio}`);
}
