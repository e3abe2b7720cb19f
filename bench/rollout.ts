// Failed requests during an update, measured, not assumed: a bounded load
// loop (only 127.0.0.1, a new connection per request) runs while each system
// moves a busybox httpd service from release 1 to release 2:
//   - Capstan: `capstan run` with its router, 3 replicas behind one published
//     port, a push to the local repository (default update_config: rolling,
//     parallelism 1, start-first, monitor 5 s);
//   - docker-compose 1.29: `up -d` recreating the service (1 replica: Compose
//     cannot publish one fixed host port from several replicas);
//   - Swarm (single node): `docker service update` of 3 replicas behind the
//     routing mesh, with Swarm's default (stop-first) and with start-first.
// Prints a markdown table and writes bench/results/rollout.md.
// Run: bash bench/rollout.sh  (installs docker-compose when missing, builds the CLI)

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const IMAGE = 'capstan/busybox:latest';
const CLIENTS = Number(process.env['CLIENTS'] ?? 8);
const id = randomBytes(3).toString('hex');
// bench/rollout.sh runs it from the repository root.
const root = process.cwd();
const BIN = join(root, 'bin', 'capstan.mjs');
// The release comes from the environment, the one thing each update changes.
const HTTPD = "mkdir -p /www && echo release-$RELEASE > /www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait";
/** The command as a Compose file writes it: `$$` keeps `$RELEASE` for the container's shell. */
const COMPOSE_COMMAND = JSON.stringify(['sh', '-c', HTTPD.replace('$RELEASE', '$$RELEASE')]);

interface Outcome {
  system: string;
  replicas: number;
  ok: number;
  failed: number;
  kinds: Record<string, number>;
  seconds: number;
}

async function sh(cmd: string, args: string[], opts: { cwd?: string; allowFailure?: boolean } = {}): Promise<string> {
  try {
    return (await exec(cmd, args, { cwd: opts.cwd, maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
  } catch (err) {
    if (opts.allowFailure === true) return '';
    throw err;
  }
}

function get(port: number): Promise<{ ok: boolean; body: string; error?: string }> {
  return new Promise((res) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => res({ ok: r.statusCode === 200, body: body.trim(), ...(r.statusCode === 200 ? {} : { error: `HTTP ${r.statusCode ?? '?'}` }) }));
      r.on('error', (e) => res({ ok: false, body: '', error: e.message }));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', (e: NodeJS.ErrnoException) => res({ ok: false, body: '', error: e.code ?? e.message }));
    req.end();
  });
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** All of 12 sequential answers say `release`. */
async function serves(port: number, release: string): Promise<boolean> {
  for (let i = 0; i < 12; i++) if ((await get(port)).body !== `release-${release}`) return false;
  return true;
}

/** Runs `update` under load; the load stops `settleMs` after `done` holds. Bounded: at most 60 s of load. */
async function underLoad(system: string, replicas: number, port: number, update: () => Promise<void>, done: () => Promise<boolean>): Promise<Outcome> {
  let stop = false;
  const kinds: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  const started = Date.now();
  const loops = Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (!stop && Date.now() - started < 60_000) {
      const r = await get(port);
      if (r.ok) ok++;
      else {
        failed++;
        kinds[r.error ?? 'error'] = (kinds[r.error ?? 'error'] ?? 0) + 1;
      }
    }
  }));
  await new Promise((r) => setTimeout(r, 1000));
  await update();
  await until(`${system} to finish the update`, done, 55_000).catch((err: unknown) => process.stderr.write(`bench: ${String(err)}\n`));
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await loops;
  return { system, replicas, ok, failed, kinds, seconds: (Date.now() - started) / 1000 };
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function capstanRun(): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-roll-'));
  const repo = join(dir, 'repo');
  const port = await freePort();
  const httpPort = await freePort();
  const stack = `benchroll${id}`;
  const manifest = (release: string): string => `name: ${stack}
services:
  web:
    image: ${IMAGE}
    command: ${COMPOSE_COMMAND}
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 3 }
    ports: ["127.0.0.1:${port}:80"]
    x-capstan:
      probe: { http: { path: /index.html, port: 80 }, interval: 500ms }
`;
  mkdirSync(join(repo, 'stacks'), { recursive: true });
  await sh('git', ['init', '-q', '-b', 'main'], { cwd: repo });
  const commit = async (release: string): Promise<void> => {
    writeFileSync(join(repo, 'stacks', 'web.yaml'), manifest(release));
    await sh('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-qam', `release ${release}`, '--allow-empty'], { cwd: repo });
  };
  writeFileSync(join(repo, 'stacks', 'web.yaml'), manifest('1'));
  await sh('git', ['add', '.'], { cwd: repo });
  await commit('1');
  const instance = `bench-roll-${id}`;
  const daemon: ChildProcess = spawn(process.execPath, [BIN, 'run', '--repo', repo, '--instance', instance, '--data-dir', join(dir, 'data'), '--status-branch', 'none', '--interval', '30s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await until('Capstan to serve release 1', () => serves(port, '1'), 60_000);
    const twins = async (): Promise<boolean> => (await sh('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}'])).includes('-next');
    return await underLoad('Capstan (router, rolling start-first)', 3, port, () => commit('2'), async () => (await serves(port, '2')) && !(await twins()));
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    const pid = await sh('cat', [join(dir, 'data', 'router', 'router.pid')], { allowFailure: true });
    if (pid !== '') process.kill(Number(pid), 'SIGTERM');
    const ids = (await sh('docker', ['ps', '-aq', '--filter', `label=io.capstan.instance=${instance}`])).split('\n').filter((x) => x !== '');
    if (ids.length > 0) await sh('docker', ['rm', '-f', ...ids], { allowFailure: true });
    const nets = (await sh('docker', ['network', 'ls', '-q', '--filter', `label=io.capstan.instance=${instance}`])).split('\n').filter((x) => x !== '');
    for (const n of nets) await sh('docker', ['network', 'rm', n], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function composeUp(): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-roll-compose-'));
  const port = await freePort();
  const project = `benchrollc${id}`;
  const file = join(dir, 'docker-compose.yml');
  const write = (release: string): void => writeFileSync(file, `services:
  web:
    image: ${IMAGE}
    command: ${COMPOSE_COMMAND}
    environment: { RELEASE: "${release}" }
    ports: ["127.0.0.1:${port}:80"]
`);
  write('1');
  const compose = (...args: string[]): Promise<string> => sh('/usr/bin/docker-compose', ['-p', project, '-f', file, ...args]);
  try {
    await compose('up', '-d');
    await until('compose to serve release 1', () => serves(port, '1'), 60_000);
    return await underLoad('docker-compose up -d (recreate)', 1, port, async () => {
      write('2');
      await compose('up', '-d');
    }, () => serves(port, '2'));
  } finally {
    await compose('down', '--remove-orphans').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function swarmUpdate(order: 'stop-first' | 'start-first'): Promise<Outcome> {
  const port = await freePort();
  const name = `benchrolls${id}${order === 'start-first' ? 'a' : 'b'}`;
  try {
    await sh('docker', ['service', 'create', '--quiet', '--detach=false', '--no-resolve-image', '--name', name, '--replicas', '3', '--publish', `published=${port},target=80`, '--update-order', order, '--label', `bench=${id}`, '--env', 'RELEASE=1', IMAGE, 'sh', '-c', HTTPD]);
    await until('swarm to serve release 1', () => serves(port, '1'), 60_000);
    return await underLoad(`docker service update (swarm, ${order})`, 3, port, async () => {
      await sh('docker', ['service', 'update', '--quiet', '--detach=false', '--no-resolve-image', '--env-add', 'RELEASE=2', name]);
    }, () => serves(port, '2'));
  } finally {
    await sh('docker', ['service', 'rm', name], { allowFailure: true });
  }
}

function table(results: readonly Outcome[]): string {
  const rows = results.map((r) => {
    const kinds = Object.entries(r.kinds).sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ×${n}`).join(', ');
    const rate = r.ok + r.failed === 0 ? '—' : `${((100 * r.failed) / (r.ok + r.failed)).toFixed(2)} %`;
    return `| ${r.system} | ${r.replicas} | ${r.ok + r.failed} | **${r.failed}** | ${rate} | ${kinds || '—'} | ${r.seconds.toFixed(1)} s |`;
  });
  return ['| system | replicas | requests | failed | failed share | failures | load window |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

async function main(): Promise<void> {
  const results: Outcome[] = [];
  process.stderr.write('bench: capstan\n');
  results.push(await capstanRun());
  process.stderr.write('bench: docker-compose\n');
  results.push(await composeUp());
  const state = await sh('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}']);
  const joined = state !== 'active';
  if (joined) await sh('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  try {
    for (const order of ['stop-first', 'start-first'] as const) {
      process.stderr.write(`bench: swarm ${order}\n`);
      results.push(await swarmUpdate(order));
    }
  } finally {
    if (joined) await sh('docker', ['swarm', 'leave', '--force'], { allowFailure: true });
  }
  const header = `# Rollout benchmark (issue 5)\n\n${new Date().toISOString()} · ${cpus().length} CPU, Node ${process.version} · ${CLIENTS} client loops on 127.0.0.1, a new connection per request, 2 s timeout · load average ${loadavg()[0]?.toFixed(2)}\n\n`;
  const text = `${header}${table(results)}\n`;
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'rollout.md'), text);
  process.stdout.write(text);
}

await main();
