// Scale (issue 14, item 8): 100 stacks / 500 containers under one `capstan
// run` on this machine's engine (shared: other work runs beside it, so the
// load average is printed with the figures). Measured, in this order:
//
//   validate  200 manifests (3 services each: routes, probes, healthchecks,
//             volumes, depends_on) by `capstan validate DIR`, whole process;
//             peers: `capstan validate` of one manifest (start-up alone) and
//             docker-compose 1.29 `config -q` of one file, times 200.
//   cold      spawn → every lane converged with 500 replicas running; peer,
//             the floor: the same 100 networks and 500 containers made
//             through the Engine API with the daemon's parallelism (32).
//   no-op     one lane's pass as the daemon times it (/api/status), woken by
//             a commit that only adds a comment to its file (the other 99
//             lanes stay asleep); and a sync of all 100 lanes (POST
//             /api/sync → every lane passed), with the pass-duration metric.
//   heal      one replica's process killed (SIGKILL: a crash), `docker kill`
//             and `docker rm -f`, each on a replica of another stack, timed
//             until the stack's replicas answer HTTP again; peer: a plain
//             `docker run --restart=always` container crashed in turn.
//   burst     100 replicas (one per stack) crashed at once: time until every
//             one answers again (the event backlog drained); peer: 100
//             --restart=always containers crashed at once.
//   memory    the operator's RSS after converging and its peak (VmHWM).
//   idle      the operator's CPU over IDLE_SECONDS with nothing to do (the
//             branch polled every 30 s meanwhile), from /proc/<pid>/stat.
//
// Everything runs under its own --instance and labels and is removed at the
// end (only those objects). Stack networks come from a subnet pool of their
// own (--subnet-pool), not Docker's default pools (~30 networks).
//
// Run: npm run bench:scale (root, local engine). STACKS, KILLS, NOOPS, SYNCS,
// IDLE_SECONDS, MANIFESTS (0: no validation) and FLOOR=0 (no floor) change
// the defaults; PROFILE_DIR=DIR writes the daemon's CPU profile, a heap
// snapshot after converging and its info log there. Prints a table;
// writes bench/results/scale.md.

import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CAPSTAN_BIN, cleanupInstance } from './lib/capstan-cli.js';
import { histogram, lanes, startDaemon, stopDaemon, syncAndWait, type LaneView, type RunningDaemon } from './lib/capstan-run.js';
import { docker as api, removeContainers, removeNetworks } from './lib/engine.js';
import { httpOk } from './lib/http-ok.js';
import { LocalRepo } from './lib/local-repo.js';
import { cpuSeconds, memory } from './lib/proc.js';
import { formatMs, summarize, waitFor, type Samples } from './lib/timing.js';

const exec = promisify(execFile);
const IMAGE = 'capstan/busybox:latest';
const HTTPD = "mkdir -p /www && echo ok > /www/healthz; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait";
const SLEEPER = "trap 'exit 0' TERM; while true; do sleep 1 & wait; done";
const STACKS = Number(process.env.STACKS ?? 100);
const WEB = 2;
const WORKERS = 3;
const PER_STACK = WEB + WORKERS;
const KILLS = Number(process.env.KILLS ?? 5);
const NOOPS = Number(process.env.NOOPS ?? 10);
const SYNCS = Number(process.env.SYNCS ?? 5);
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const MANIFESTS = Number(process.env.MANIFESTS ?? 200);
const FLOOR = process.env.FLOOR !== '0';
/** Capstan's default --parallelism: the floor makes its containers as many at a time. */
const PARALLELISM = 32;
const id = randomBytes(3).toString('hex');
const instance = `scale-bench-${id}`;
/** Labels everything the bench makes itself (the floor's and the peer's objects). */
const OWN = `bench.scale=${id}`;
/** A /16 of its own: the floor's networks and the daemon's pool; other work on the engine uses Capstan's default 10.231/16. */
const POOL_OCTET = 200 + randomInt(50);
const POOL = `10.${POOL_OCTET}.0.0/16`;

/** Extra node flags for the operator (a profiler, an experiment); none by default, as users run it. */
const OPERATOR_NODE_ARGS = (process.env.OPERATOR_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const stackName = (n: number): string => `sc${n}x${id}`;
const stackYaml = (n: number, comment = ''): string => `name: ${stackName(n)}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(HTTPD)}]
    deploy: { replicas: ${WEB} }
  worker:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEPER)}]
    deploy: { replicas: ${WORKERS} }
${comment}`;

/** A manifest as teams write them: three services, a route and probe, a healthcheck, volumes, depends_on. No `name:` (docker-compose 1.29 refuses it): the file names the stack. */
const manifest = (n: number): string => `services:
  web:
    image: registry.example.test/team${n % 7}/web:1.${n % 10}.0
    command: ["httpd", "-f", "-p", "8080"]
    environment:
${Array.from({ length: 10 }, (_, k) => `      SETTING_${k}: "value-${n}-${k}"`).join('\n')}
    ports: ["${20000 + n}:8080"]
    depends_on:
      db: { condition: service_healthy }
    healthcheck: { test: ["CMD", "wget", "-qO-", "http://localhost:8080/healthz"], interval: 5s, retries: 3 }
    deploy:
      replicas: ${1 + (n % 4)}
      update_config: { parallelism: 1, order: start-first, monitor: 10s }
      resources: { limits: { cpus: "0.5", memory: 256M } }
    labels: { team: "team${n % 7}" }
    x-capstan:
      route: { host: app${n}.example.test, path: /, port: 8080 }
      probe: { http: { path: /healthz, port: 8080 }, interval: 2s, failure_threshold: 3 }
  db:
    image: registry.example.test/db:16
    environment: { DB_NAME: app${n}, DB_USER: app }
    volumes: ["data:/var/lib/db"]
    healthcheck: { test: ["CMD", "true"], interval: 5s }
  worker:
    image: registry.example.test/team${n % 7}/worker:1.${n % 10}.0
    command: ["worker", "--queue", "app${n}"]
    depends_on: [db]
    restart: unless-stopped
volumes:
  data: {}
`;

async function dockerCli(...args: string[]): Promise<string> {
  return (await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pooled<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  }));
}

/** Median of `runs` runs of a command, wall clock (start-up included: a user pays it). */
async function timedRuns(runs: number, file: string, args: readonly string[]): Promise<Samples> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await exec(file, args, { maxBuffer: 16 * 1024 * 1024 });
    times.push(performance.now() - t0);
  }
  return summarize(times);
}

interface ValidateFigures {
  all: Samples;
  one: Samples;
  composeOne: Samples | undefined;
}

async function validateRun(root: string): Promise<ValidateFigures> {
  const many = join(root, 'many');
  const one = join(root, 'one');
  mkdirSync(many, { recursive: true });
  mkdirSync(one, { recursive: true });
  for (let n = 1; n <= MANIFESTS; n++) writeFileSync(join(many, `app${n}.yaml`), manifest(n));
  writeFileSync(join(one, 'app1.yaml'), manifest(1));
  const all = await timedRuns(3, process.execPath, [CAPSTAN_BIN, 'validate', many]);
  const single = await timedRuns(3, process.execPath, [CAPSTAN_BIN, 'validate', one]);
  let composeOne: Samples | undefined;
  try {
    composeOne = await timedRuns(5, 'docker-compose', ['-f', join(one, 'app1.yaml'), 'config', '-q']);
  } catch (err) {
    console.error(`bench:scale — docker-compose not measured (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`);
  }
  return { all, one: single, composeOne };
}

/** The floor: the same networks and containers through the Engine API, no decisions; removed afterwards. */
async function floorRun(): Promise<number> {
  const t0 = performance.now();
  const nets: string[] = [];
  await pooled(Array.from({ length: STACKS }, (_, i) => i), PARALLELISM, async (i) => {
    const net = await api.createNetwork({ Name: `scale-floor-${id}-${i}`, Labels: { 'bench.scale': id }, IPAM: { Config: [{ Subnet: `10.${POOL_OCTET}.${i}.0/24` }] } });
    nets[i] = net.id;
  });
  const containers = Array.from({ length: STACKS * PER_STACK }, (_, k) => k);
  await pooled(containers, PARALLELISM, async (k) => {
    const stack = Math.floor(k / PER_STACK);
    const web = k % PER_STACK < WEB;
    const c = await api.createContainer({
      name: `scale-floor-${id}-${k}`,
      Image: IMAGE,
      Cmd: ['sh', '-c', web ? HTTPD : SLEEPER],
      Labels: { 'bench.scale': id },
      HostConfig: { NetworkMode: nets[stack] },
    });
    await c.start();
  });
  const ms = performance.now() - t0;
  await removeContainers(OWN);
  await removeNetworks(OWN);
  return ms;
}

/**
 * Running replicas of a service, by stack: container id → IP. One list call,
 * of one stack when given: the bench's polling must not load the engine more
 * for Capstan than for the peer, whose check is one inspect.
 */
async function runningByStack(service: string, stack?: string): Promise<Map<string, Map<string, string>>> {
  const label = [`io.capstan.instance=${instance}`, `io.capstan.service=${service}`, ...(stack === undefined ? [] : [`io.capstan.stack=${stack}`])];
  const list = await api.listContainers({ filters: { label, status: ['running'] } });
  const out = new Map<string, Map<string, string>>();
  for (const c of list) {
    const stack = c.Labels['io.capstan.stack'] ?? '';
    const ip = Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).find((x) => x !== '') ?? '';
    const m = out.get(stack) ?? new Map<string, string>();
    m.set(c.Id, ip);
    out.set(stack, m);
  }
  return out;
}

async function allAnswer(ips: Iterable<string>): Promise<boolean> {
  return (await Promise.all([...ips].map((ip) => (ip === '' ? false : httpOk(ip))))).every(Boolean);
}

/** Is a stack's web service whole again: WEB replicas running, each answering? */
async function stackHealed(stack: string): Promise<boolean> {
  const running = (await runningByStack('web', stack)).get(stack);
  return running !== undefined && running.size === WEB && (await allAnswer(running.values()));
}

async function peerHealed(name: string): Promise<boolean> {
  const c = await api.getContainer(name).inspect();
  const ip = Object.values(c.NetworkSettings.Networks).map((n) => n.IPAddress).find((x) => x !== '') ?? '';
  return c.State.Running && ip !== '' && (await httpOk(ip));
}

type KillKind = 'crash' | 'docker kill' | 'docker rm -f';

async function kill(containerId: string, how: KillKind): Promise<void> {
  const c = api.getContainer(containerId);
  if (how === 'docker kill') await c.kill();
  else if (how === 'docker rm -f') await c.remove({ force: true });
  else process.kill((await c.inspect()).State.Pid, 'SIGKILL');
}

async function containerIdByName(name: string): Promise<string> {
  return (await api.getContainer(name).inspect()).Id;
}

/** Times one kill until `healed` says so. */
async function timedHeal(victim: string, how: KillKind, healed: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  await kill(victim, how);
  await waitFor(`a heal after ${how}`, async () => ((await healed()) ? true : undefined), 60_000, 10);
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300));
  return ms;
}

/** `count` plain `docker run --restart=always` httpd containers, named `scale-bench-<id>-<tag>-<i>`. */
async function restartAlways(tag: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `scale-bench-${id}-${tag}-${i}`);
  await pooled(names, 8, async (name) => void (await dockerCli('run', '-d', '--restart=always', '--label', OWN, '--label', `bench.scale.set=${tag}`, '--name', name, IMAGE, 'sh', '-c', HTTPD)));
  return names;
}

interface HealFigures {
  crash: number[];
  dockerKill: number[];
  removed: number[];
  peer: number[];
  /** Did --restart=always bring back a container stopped by `docker kill`? */
  peerAfterDockerKill: 'restarted' | 'stayed stopped';
}

/**
 * Capstan's kills rotate over stacks (each replica once: a second death
 * within a minute is a crash loop, rightly backed off), in turn with the
 * peer's, so both heal under the same load.
 */
async function healRun(peers: readonly string[], peerKill: string): Promise<HealFigures> {
  const f: HealFigures = { crash: [], dockerKill: [], removed: [], peer: [], peerAfterDockerKill: 'stayed stopped' };
  let stack = 1;
  for (let k = 0; k < KILLS; k++) {
    for (const [how, into] of [['crash', f.crash], ['docker kill', f.dockerKill], ['docker rm -f', f.removed]] as const) {
      const s = stackName(stack++);
      into.push(await timedHeal(await containerIdByName(`${s}-web-1`), how, () => stackHealed(s)));
    }
    const peer = peers[k] ?? '';
    f.peer.push(await timedHeal(await containerIdByName(peer), 'crash', () => peerHealed(peer)));
  }
  await api.getContainer(peerKill).kill();
  f.peerAfterDockerKill = await waitFor('the peer back after docker kill', async () => ((await peerHealed(peerKill).catch(() => false)) ? 'restarted' as const : undefined), 5000, 100).catch(() => 'stayed stopped' as const);
  return f;
}

/** Crashes every victim at once; per victim, the time until `healed` says so. */
async function burst<V>(victims: readonly V[], pid: (v: V) => Promise<number>, healed: (pending: readonly V[]) => Promise<V[]>): Promise<number[]> {
  const pids = await Promise.all(victims.map(pid));
  const t0 = performance.now();
  for (const p of pids) process.kill(p, 'SIGKILL');
  const times: number[] = [];
  let pending = [...victims];
  await waitFor('every victim healed', async () => {
    const done = new Set(await healed(pending));
    const now = performance.now() - t0;
    for (const v of pending) if (done.has(v)) times.push(now);
    pending = pending.filter((v) => !done.has(v));
    return pending.length === 0 ? true : undefined;
  }, 180_000, 50);
  return times;
}

async function capstanBurst(): Promise<number[]> {
  const stacks = Array.from({ length: STACKS }, (_, i) => stackName(i + 1));
  return burst(stacks, async (s) => (await api.getContainer(`${s}-web-2`).inspect()).State.Pid, async (pending) => {
    const running = await runningByStack('web');
    const ok = await Promise.all(pending.map(async (s) => {
      const r = running.get(s);
      return r !== undefined && r.size === WEB && (await allAnswer(r.values()));
    }));
    return pending.filter((_, i) => ok[i]);
  });
}

/** The same check as Capstan's side: one list call per poll, then HTTP to the replicas still pending. */
async function peerBurst(names: readonly string[]): Promise<number[]> {
  return burst(names, async (n) => (await api.getContainer(n).inspect()).State.Pid, async (pending) => {
    const list = await api.listContainers({ filters: { label: [OWN, 'bench.scale.set=burst'], status: ['running'] } });
    const ips = new Map(list.map((c) => [c.Names[0]?.replace(/^\//, '') ?? '', Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).find((x) => x !== '') ?? '']));
    const ok = await Promise.all(pending.map(async (n) => ips.has(n) && (await allAnswer([ips.get(n) ?? '']))));
    return pending.filter((_, i) => ok[i]);
  });
}

async function converged(d: RunningDaemon, count: number): Promise<LaneView[] | undefined> {
  const l = await lanes(d);
  return l.length === count && l.every((x) => x.outcome === 'converged' && !x.running) ? l : undefined;
}

interface NoopFigures {
  /** One lane woken by a comment-only commit: its pass as the daemon timed it. */
  single: number[];
  /** Lanes that passed per such commit (1 when only the touched stack woke). */
  woken: number[];
  /** POST /api/sync → every lane passed. */
  syncWall: number[];
  /** Each lane's pass within those syncs. */
  syncLane: number[];
  /** Mean pass duration over the syncs, from capstan_reconcile_duration_seconds. */
  metricMean: number;
}

async function noopRun(d: RunningDaemon, repo: LocalRepo): Promise<NoopFigures> {
  const f: NoopFigures = { single: [], woken: [], syncWall: [], syncLane: [], metricMean: NaN };
  for (let j = 0; j < NOOPS; j++) {
    const n = 1 + ((Math.floor(STACKS / 2) + j) % STACKS);
    const stack = stackName(n);
    const before = new Map((await lanes(d)).map((l) => [l.stack, l.passes]));
    await repo.commit({ [`stacks/s${n}.yaml`]: stackYaml(n, `# touched ${j}\n`) }, `comment in ${stack}`);
    const lane = await waitFor(`${stack} to pass`, async () => {
      const l = (await lanes(d)).find((x) => x.stack === stack);
      return l !== undefined && l.passes > (before.get(stack) ?? 0) && !l.running ? l : undefined;
    }, 30_000, 100);
    if (lane.outcome !== 'converged' || lane.changes !== 0) throw new Error(`${stack}: a comment-only commit ended ${lane.outcome} with ${lane.changes} changes`);
    f.single.push(lane.durationSeconds * 1000);
    // Other lanes a poll or an event woke meanwhile would show here too: the figure is an upper bound of what the commit woke.
    f.woken.push((await lanes(d)).filter((l) => l.passes > (before.get(l.stack) ?? 0)).length);
  }
  const m0 = await histogram(d, 'capstan_reconcile_duration_seconds');
  for (let round = 0; round < SYNCS; round++) {
    const sync = await syncAndWait(d, 120_000, 50);
    f.syncWall.push(sync.ms);
    for (const l of sync.lanes) f.syncLane.push(l.durationSeconds * 1000);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const m1 = await histogram(d, 'capstan_reconcile_duration_seconds');
  f.metricMean = ((m1.sum - m0.sum) / (m1.count - m0.count)) * 1000;
  return f;
}

interface ScaleFigures {
  floorMs: number | undefined;
  coldMs: number;
  noop: NoopFigures;
  heal: HealFigures;
  burst: number[];
  peerBurst: number[];
  rssConverged: number;
  rssEnd: number;
  rssPeak: number;
  idleCpu: number;
  /** Warnings and errors the daemon logged over the whole run. */
  logLines: number;
}

async function scaleRun(root: string): Promise<ScaleFigures> {
  const repo = await LocalRepo.create(root);
  const files: Record<string, string> = {};
  for (let n = 1; n <= STACKS; n++) files[`stacks/s${n}.yaml`] = stackYaml(n);
  await repo.commit(files, `${STACKS} stacks`);

  let floorMs: number | undefined;
  if (FLOOR) {
    console.error(`bench:scale — floor: ${STACKS} networks + ${STACKS * PER_STACK} containers through the Engine API…`);
    floorMs = await floorRun();
  }

  console.error(`bench:scale — cold converge of ${STACKS} stacks / ${STACKS * PER_STACK} containers (pool ${POOL})…`);
  const t0 = performance.now();
  const profileDir = process.env.PROFILE_DIR;
  const profile = profileDir === undefined ? {} : { nodeArgs: [...OPERATOR_NODE_ARGS, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profileDir}`], env: { CAPSTAN_LOG_LEVEL: 'info' } };
  const d = await startDaemon({ repo: repo.dir, instance, dataDir: join(root, 'data'), args: ['--subnet-pool', POOL, '--subnet-size', '24', '--interval', '30s'], nodeArgs: OPERATOR_NODE_ARGS, ...profile });
  try {
    await waitFor(`${STACKS} lanes converged`, () => converged(d, STACKS), 900_000, 250);
    const coldMs = performance.now() - t0;
    const running = (await api.listContainers({ filters: { label: [`io.capstan.instance=${instance}`], status: ['running'] } })).length;
    if (running !== STACKS * PER_STACK) throw new Error(`${running}/${STACKS * PER_STACK} containers running after the cold converge`);
    const rssConverged = memory(d.pid).rss;

    console.error('bench:scale — the peer\'s --restart=always containers…');
    const peers = await restartAlways('one', KILLS);
    const [peerKill = ''] = await restartAlways('kill', 1);
    const burstPeers = await restartAlways('burst', STACKS);
    // Docker's restart backoff resets after 10 s of running; the settle time also lets the first passes' follow-ups end.
    await new Promise((r) => setTimeout(r, 11_000));

    console.error('bench:scale — no-op passes…');
    const noop = await noopRun(d, repo);

    if (profileDir !== undefined) {
      // A heap snapshot of the converged daemon (written beside the CPU profile).
      d.child.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 20_000));
    }
    console.error('bench:scale — heals of one replica…');
    const heal = await healRun(peers, peerKill);

    console.error(`bench:scale — a burst of ${STACKS} deaths, then the peer's…`);
    const capstanTimes = await capstanBurst();
    const peerTimes = await peerBurst(burstPeers);
    await removeContainers(OWN);

    await waitFor('every lane idle', () => converged(d, STACKS), 120_000, 500);
    await new Promise((r) => setTimeout(r, 5000));
    console.error(`bench:scale — idle for ${IDLE_SECONDS} s…`);
    const cpu0 = cpuSeconds(d.pid);
    const i0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleCpu = (cpuSeconds(d.pid) - cpu0) / ((performance.now() - i0) / 1000);
    const mem = memory(d.pid);
    const logged = d.logs().split('\n').filter((l) => l.trim() !== '');
    const byMessage = new Map<string, number>();
    for (const l of logged) {
      const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? l;
      byMessage.set(msg, (byMessage.get(msg) ?? 0) + 1);
    }
    for (const [msg, count] of [...byMessage].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.error(`bench:scale — the daemon logged ${count}×: ${msg.slice(0, 200)}`);
    const logLines = logged.length;
    return { floorMs, coldMs, noop, heal, burst: capstanTimes, peerBurst: peerTimes, rssConverged, rssEnd: mem.rss, rssPeak: mem.peak, idleCpu, logLines };
  } finally {
    await stopDaemon(d);
    if (profileDir !== undefined) writeFileSync(join(profileDir, 'daemon.log'), d.logs());
  }
}

function render(v: ValidateFigures | undefined, s: ScaleFigures, load: { before: number; after: number; others: number }): string {
  const ms = (x: number): string => formatMs(x);
  const p = (xs: readonly number[]): Samples => summarize(xs);
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
  const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;
  const mark = (ok: boolean): string => (ok ? '✅' : '❌');
  const peer = p(s.heal.peer);
  const crash = p(s.heal.crash);
  const dk = p(s.heal.dockerKill);
  const rm = p(s.heal.removed);
  const single = p(s.noop.single);
  const burst = p(s.burst);
  const peerBurst = p(s.peerBurst);
  const composeAll = v?.composeOne === undefined ? undefined : v.composeOne.median * MANIFESTS;
  const rows = [
    ...(v === undefined ? [] : [`| validate ${MANIFESTS} manifests: \`capstan validate DIR\`, whole process | ${ms(v.all.median)} | ${ms(v.all.min)} | one manifest ${ms(v.one.median)} (start-up); docker-compose \`config -q\` ${v.composeOne === undefined ? 'n/a' : `${ms(v.composeOne.median)} per file, ×${MANIFESTS} = ${ms(composeAll ?? NaN)}`} | ${composeAll === undefined ? '' : `${ratio(v.all.median, composeAll)} compose`} |`]),
    `| cold converge: spawn → ${STACKS} lanes converged, ${STACKS * PER_STACK} containers | ${ms(s.coldMs)} | | floor (same networks + containers, Engine API, ${PARALLELISM} at a time) ${s.floorMs === undefined ? 'not run' : ms(s.floorMs)} | ${s.floorMs === undefined ? '' : `${ratio(s.coldMs, s.floorMs)} floor`} |`,
    `| no-op pass of one lane, woken by a comment-only commit (${s.noop.single.length} commits; lanes passed per commit: ${[...new Set(s.noop.woken)].join('/')}) | ${ms(single.median)} | ${ms(single.p95)} | | ${mark(single.p95 < 100)} < 100 ms |`,
    `| sync of all ${STACKS} lanes (POST /api/sync → every lane passed, ${s.noop.syncWall.length} rounds) | ${ms(p(s.noop.syncWall).median)} | ${ms(p(s.noop.syncWall).p95)} | | |`,
    `| one lane's pass within that sync, as the daemon timed it (metric mean ${ms(s.noop.metricMean)}) | ${ms(p(s.noop.syncLane).median)} | ${ms(p(s.noop.syncLane).p95)} | | |`,
    `| heal: a replica's process killed (SIGKILL, a crash), ${s.heal.crash.length} kills | ${ms(crash.median)} | ${ms(crash.p95)} | --restart=always, crashed in turn: ${ms(peer.median)} (p95 ${ms(peer.p95)}) | ${ratio(crash.median, peer.median)} ${mark(crash.median <= 1.5 * peer.median)} ≤ 1.5× |`,
    `| heal: \`docker kill\` of a replica | ${ms(dk.median)} | ${ms(dk.p95)} | --restart=always after \`docker kill\`: ${s.heal.peerAfterDockerKill} | ${ratio(dk.median, peer.median)} of the peer's crash ${mark(dk.median <= 1.5 * peer.median)} |`,
    `| heal: \`docker rm -f\` of a replica | ${ms(rm.median)} | ${ms(rm.p95)} | --restart=always: stays removed | ${ratio(rm.median, peer.median)} of the peer's crash ${mark(rm.median <= 1.5 * peer.median)} |`,
    `| burst: ${STACKS} replicas (one per stack) crashed at once → all answer again | ${ms(burst.values.reduce((a, b) => Math.max(a, b), 0))} (all) | p50 ${ms(burst.median)} | ${STACKS} --restart=always crashed at once: all ${ms(peerBurst.values.reduce((a, b) => Math.max(a, b), 0))}, p50 ${ms(peerBurst.median)} | ${ratio(Math.max(...s.burst), Math.max(...s.peerBurst))} |`,
    `| operator RSS: converged / at the end / peak | ${mib(s.rssConverged)} / ${mib(s.rssEnd)} | peak ${mib(s.rssPeak)} | | ${mark(s.rssPeak < 150 * 1024 * 1024)} < 150 MB |`,
    `| operator CPU idle, ${STACKS} stacks, 30 s poll (${IDLE_SECONDS} s) | ${(s.idleCpu * 100).toFixed(2)} % of a core | | | ${mark(s.idleCpu < 0.01)} < 1 % |`,
  ];
  return [
    `## Scale (issue 14): ${STACKS} stacks / ${STACKS * PER_STACK} containers on one engine`,
    '',
    `${new Date().toISOString().slice(0, 16)}Z · 2 cores shared with other work: load average ${load.before.toFixed(1)} → ${load.after.toFixed(1)}, ${load.others} other containers on the engine · operator node flags: ${OPERATOR_NODE_ARGS.join(' ') || 'none'} · the daemon logged ${s.logLines} warning/error lines over the run`,
    '',
    '| measure | p50 / value | p95 / min | peer, same run | ratio · goal |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

const root = mkdtempSync(join(tmpdir(), 'scale-bench-'));
const loadBefore = loadavg()[0] ?? 0;
try {
  console.error(`bench:scale — validating ${MANIFESTS} manifests…`);
  const v = MANIFESTS > 0 ? await validateRun(join(root, 'validate')) : undefined;
  const others = (await api.listContainers()).length;
  const s = await scaleRun(join(root, 'scale'));
  const text = render(v, s, { before: loadBefore, after: loadavg()[0] ?? 0, others });
  console.log(text);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/scale.md', `${text}\nGoals (issue 14): no-op pass < 100 ms, heal ≤ 1.5× --restart=always, RSS < 150 MB, idle CPU < 1 %.\n`);
} finally {
  await cleanupInstance(instance);
  await removeContainers(OWN);
  await removeNetworks(OWN);
  rmSync(root, { recursive: true, force: true });
}
