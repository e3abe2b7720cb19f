// Progressive delivery, measured (issue 12): `capstan run` with its router,
// a local repository (its file watch triggers at once), only 127.0.0.1.
//   1. Canary abort: 4 stable replicas of release 1 under a steady load;
//      a release answering 500 is pushed with `strategy: canary`, first step
//      10 %, analysis every 1 s (max_error_rate 5 %, min_requests 20).
//      Measured: abort time (first failed answer → last one, i.e. until all
//      traffic is back on stable) and the failed requests users saw.
//   2. Autoscale reaction: a service with target_rps_per_replica 20 at rest;
//      a step to a steady 60 requests/s. Measured: time from the step until
//      the autoscaler chose more replicas, and until they served.
// The peers are not run here (no Kubernetes on this machine): their numbers
// come from their documented defaults and this run's own request rate —
// Argo Rollouts / Flagger analysis every 1 min (an abort needs at least one
// failed measurement: ≥ 60 s at the canary's error rate measured here), the
// Kubernetes HPA's 15 s sync period.
// Prints a markdown table and writes bench/results/progressive.md.
// Run: npm run bench:progressive

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const IMAGE = 'capstan/busybox:latest';
const root = process.cwd();
const BIN = join(root, 'bin', 'capstan.mjs');
const id = randomBytes(3).toString('hex');
const PEER_ANALYSIS_INTERVAL_S = 60;
const PEER_HPA_SYNC_S = 15;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Requests at a steady rate on a fixed schedule; each answer with when it came. */
function paced(port: number, path: string, rps: number): { stop: () => Promise<{ at: number; status: number }[]> } {
  let done = false;
  const answers: { at: number; status: number }[] = [];
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  const loop = (async () => {
    for (let i = 0; !done; i++) {
      const wait = t0 + (i * 1000) / rps - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = get(port, path).then((status) => void answers.push({ at: performance.now(), status }));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
  })();
  return { stop: async () => { done = true; await loop; await Promise.all(pending); return answers; } };
}

async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Setup { repo: string; instance: string; dataDir: string; httpPort: number; listen: string; daemon: ChildProcess }

async function commit(repo: string, file: string, text: string, message: string): Promise<void> {
  mkdirSync(join(repo, 'stacks'), { recursive: true });
  writeFileSync(join(repo, 'stacks', file), text);
  await exec('git', ['-C', repo, 'add', '-A']);
  await exec('git', ['-C', repo, '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-qm', message]);
}

async function start(name: string, stackFile: string, yaml: string): Promise<Setup> {
  const repo = mkdtempSync(join(tmpdir(), `capstan-bench-${name}-repo-`));
  await exec('git', ['init', '-q', '-b', 'main', repo]);
  await commit(repo, stackFile, yaml, 'first');
  const instance = `bench-${name}-${id}`;
  const dataDir = mkdtempSync(join(tmpdir(), `capstan-bench-${name}-`));
  const httpPort = await freePort();
  const listen = `127.0.0.1:${await freePort()}`;
  const daemon = spawn(process.execPath, [BIN, 'run', '--repo', repo, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', listen, '--http-port', String(httpPort), '--status-branch', 'none'], { stdio: ['ignore', 'ignore', 'ignore'] });
  return { repo, instance, dataDir, httpPort, listen, daemon };
}

async function stop(s: Setup): Promise<void> {
  s.daemon.kill('SIGTERM');
  await new Promise((r) => s.daemon.once('exit', r));
  try {
    process.kill(Number(readFileSync(join(s.dataDir, 'router', 'router.pid'), 'utf8')), 'SIGTERM');
  } catch {
    // no router left
  }
  const ids = (await exec('docker', ['ps', '-aq', '--filter', `label=io.capstan.instance=${s.instance}`])).stdout.split('\n').filter((x) => x !== '');
  if (ids.length > 0) await exec('docker', ['rm', '-f', ...ids]);
  const nets = (await exec('docker', ['network', 'ls', '-q', '--filter', `label=io.capstan.instance=${s.instance}`])).stdout.split('\n').filter((x) => x !== '');
  if (nets.length > 0) await exec('docker', ['network', 'rm', ...nets]);
  rmSync(s.repo, { recursive: true, force: true });
  rmSync(s.dataDir, { recursive: true, force: true });
}

function canaryStack(stack: string, release: number, status: number): string {
  const cgi = `#!/bin/sh\\nprintf 'Status: ${status} X\\\\r\\\\nContent-Type: text/plain\\\\r\\\\n\\\\r\\\\nrelease-${release}\\\\n'\\n`;
  return `name: ${stack}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && printf \\"${cgi}\\" > /www/cgi-bin/app && chmod +x /www/cgi-bin/app && echo ok > /www/healthz && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    deploy: { replicas: 4 }
    x-capstan:
      route: { path: / }
      probe: { http: { path: /healthz, port: 80 }, interval: 200ms }
      strategy: canary
      canary:
        steps: [ { weight: 10, pause: 5m }, { weight: 100 } ]
        analysis: { interval: 1s, max_error_rate: 0.05, min_requests: 20 }
`;
}

async function canaryAbort(rps: number): Promise<{ abortS: number; failed: number; total: number; badPerSecond: number }> {
  const stack = `benchcanary${id}`;
  const s = await start('canary', 'web.yaml', canaryStack(stack, 1, 200));
  try {
    await until('release 1', 90_000, async () => ((await get(s.httpPort, '/cgi-bin/app')) === 200 ? true : undefined));
    const load = paced(s.httpPort, '/cgi-bin/app', rps);
    await new Promise((r) => setTimeout(r, 2000));
    await commit(s.repo, 'web.yaml', canaryStack(stack, 2, 500), 'bad release');
    // Aborted: the hold is written and the canary gone.
    await until('the abort', 180_000, async () => {
      const { stdout } = await exec('docker', ['ps', '-aq', '--filter', `label=io.capstan.instance=${s.instance}`, '--filter', 'label=io.capstan.slot=canary']);
      const status: unknown = await (await fetch(`http://${s.listen}/api/status`, { headers: { authorization: `Bearer ${readFileSync(join(s.dataDir, 'api.token'), 'utf8').trim()}` } })).json();
      return stdout.trim() === '' && JSON.stringify(status).includes('CanaryFailed') ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 2000));
    const answers = await load.stop();
    const bad = answers.filter((a) => a.status !== 200);
    const first = Math.min(...bad.map((a) => a.at));
    const last = Math.max(...bad.map((a) => a.at));
    const abortS = (last - first) / 1000;
    return { abortS, failed: bad.length, total: answers.length, badPerSecond: bad.length / Math.max(abortS, 0.001) };
  } finally {
    await stop(s);
  }
}

function autoscaleStack(stack: string): string {
  return `name: ${stack}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    x-capstan:
      route: { path: / }
      probe: { http: { path: /index.html, port: 80 }, interval: 200ms }
      autoscale: { min: 1, max: 4, target_rps_per_replica: 20, cooldown: 30s }
`;
}

async function autoscaleReaction(): Promise<{ decideS: number; servingS: number; replicas: number }> {
  const stack = `benchscale${id}`;
  const s = await start('scale', 'web.yaml', autoscaleStack(stack));
  try {
    await until('the service', 90_000, async () => ((await get(s.httpPort, '/')) === 200 ? true : undefined));
    const chosen = async (): Promise<number> => {
      const body = (await (await fetch(`http://${s.listen}/api/status`, { headers: { authorization: `Bearer ${readFileSync(join(s.dataDir, 'api.token'), 'utf8').trim()}` } })).json()) as { autoscale?: { replicas: number }[] };
      return body.autoscale?.[0]?.replicas ?? 0;
    };
    const t0 = performance.now();
    const load = paced(s.httpPort, '/', 60);
    const replicas = await until('a scale-up decision', 120_000, async () => {
      const n = await chosen();
      return n > 1 ? n : undefined;
    });
    const decideS = (performance.now() - t0) / 1000;
    await until('the new replicas', 120_000, async () => {
      const { stdout } = await exec('docker', ['ps', '-q', '--filter', `label=io.capstan.instance=${s.instance}`, '--filter', 'health=healthy']);
      const running = (await exec('docker', ['ps', '-q', '--filter', `label=io.capstan.instance=${s.instance}`])).stdout.split('\n').filter((x) => x !== '').length;
      void stdout;
      return running >= replicas ? true : undefined;
    });
    const servingS = (performance.now() - t0) / 1000;
    await load.stop();
    return { decideS, servingS, replicas };
  } finally {
    await stop(s);
  }
}

const RPS = Number(process.env['RPS'] ?? 100);
const canary = await canaryAbort(RPS);
const scale = await autoscaleReaction();
const peerFailed = Math.round(canary.badPerSecond * PEER_ANALYSIS_INTERVAL_S);
const lines = [
  `# Progressive delivery benchmark`,
  '',
  `Machine: ${cpus().length} cores, load ${loadavg()[0]?.toFixed(2)}; ${RPS} requests/s on the route, canary at 10 %.`,
  '',
  '| measure | Capstan (measured) | Argo Rollouts / Flagger defaults (1 min analysis interval) | ratio |',
  '| --- | --- | --- | --- |',
  `| canary abort time (first failed answer → all traffic on stable) | ${canary.abortS.toFixed(1)} s | ≥ ${PEER_ANALYSIS_INTERVAL_S} s | ${(PEER_ANALYSIS_INTERVAL_S / Math.max(canary.abortS, 0.1)).toFixed(0)}× faster |`,
  `| failed requests users saw before the abort | ${canary.failed} of ${canary.total} | ≈ ${peerFailed} (same error rate for ${PEER_ANALYSIS_INTERVAL_S} s) | ${(peerFailed / Math.max(canary.failed, 1)).toFixed(0)}× fewer |`,
  '',
  '| measure | Capstan (measured) | Kubernetes HPA default (15 s sync period) |',
  '| --- | --- | --- |',
  `| autoscale decision after a 0 → 60 requests/s step | ${scale.decideS.toFixed(1)} s (→ ${scale.replicas} replicas) | up to ${PEER_HPA_SYNC_S} s, plus metrics-server's scrape |`,
  `| new replicas running | ${scale.servingS.toFixed(1)} s | (pod start on top) |`,
  '',
];
const text = lines.join('\n');
process.stdout.write(`${text}\n`);
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
writeFileSync(join(root, 'bench', 'results', 'progressive.md'), `${text}\n`);
