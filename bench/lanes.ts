// Lanes (issue 11): does one stack's long rollout hold anything else up?
// One `capstan run` (--router none, a local repository, a generic webhook)
// runs three kinds of stacks side by side, on this machine's engine:
//
//   (a) heal: while stack `slow` rolls 3 replicas with a 20 s monitor window
//       each (~60 s), a replica of stack `heal` is killed (SIGKILL of its
//       process) again and again, each time another replica, and timed until
//       it answers HTTP 200 on its IP again, in turn with a kill of a
//       --restart=always container (the peer, under the same load); then
//       the same after the rollout (Capstan idle). Also during the rollout:
//       a replica removed (docker rm -f), timed until it answers again.
//   (b) push → running: during the same rollout, commits to stack `push`
//       (its environment changes) are announced by a signed webhook; timed
//       from the hook until a replica of the new revision runs. Peer: one
//       container create + start through the Engine API, the floor of any
//       deploy, measured in the same run.
//   (c) 25 stacks: a no-op lane pass (each lane's own pass duration, as the
//       daemon records it, over several syncs of all lanes) and the
//       operator's CPU while idle (its /proc times over 60 s).
//
// Run: npm run bench:lanes (root, local engine). Prints a table; writes
// bench/results/lanes.md.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { cleanupInstance } from './lib/capstan-cli.js';
import { genericHook, lanes, startDaemon as startCapstan, stopDaemon, syncAndWait, type RunningDaemon } from './lib/capstan-run.js';
import { removeContainers } from './lib/engine.js';
import { httpOk } from './lib/http-ok.js';
import { LocalRepo as Repo } from './lib/local-repo.js';
import { cpuSeconds } from './lib/proc.js';
import { waitFor } from './lib/timing.js';
import { createPassContext } from '../src/cli/context.js';
import { resolveSettings } from '../src/config/settings.js';
import { silentLogger } from '../src/logging/logger.js';
import { newLaneMemory, runStackPass, type StackPassDeps } from '../src/reconciler/stack-pass.js';

const exec = promisify(execFile);
const IMAGE = 'capstan/busybox:latest';
const HTTPD = "mkdir -p /www && echo ok > /www/healthz; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait";
const SLEEPER = "trap 'exit 0' TERM; while true; do sleep 1 & wait; done";
const KILLS = Number(process.env.KILLS ?? 10);
const PUSHES = Number(process.env.PUSHES ?? 5);
const REMOVALS = Number(process.env.REMOVALS ?? 5);
const STACKS = Number(process.env.STACKS ?? 25);
const SECRET = 'bench-hook-secret';
const id = randomBytes(3).toString('hex');
const api = new Docker();

async function docker(...args: string[]): Promise<string> {
  return (await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();
}

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** Running containers matching the label filters: id → { ip, labels }. */
async function running(labels: string[]): Promise<Map<string, { ip: string | undefined; labels: Record<string, string> }>> {
  const list = await api.listContainers({ filters: { label: labels } });
  return new Map(list.filter((c) => c.State === 'running').map((c) => [c.Id, { ip: Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.IPAddress).find((x) => x !== ''), labels: c.Labels }]));
}

/** A set of replicas to kill: the label filter that finds them and how many must answer for a heal to be over. */
interface Target {
  labels: string[];
  count: number;
}

async function healthy(t: Target): Promise<Map<string, { ip: string | undefined }> | undefined> {
  const r = await running(t.labels);
  if (r.size < t.count) return undefined;
  const ok = await Promise.all([...r.values()].map((c) => (c.ip === undefined ? false : httpOk(c.ip))));
  return ok.every(Boolean) ? r : undefined;
}

/**
 * Kills one replica of each target in turn (Capstan's, then the peer's, then
 * Capstan's again …), so both heal under the same load; each replica once
 * (a second kill within a minute is a crash loop, rightly backed off, on both
 * sides). A heal is over when all of the target's replicas answer again.
 */
async function alternatingHeals(targets: readonly Target[], kills: number): Promise<number[][]> {
  const victims = await Promise.all(targets.map(async (t) => [...(await waitFor('replicas to heal', () => healthy(t), 120_000, 100)).keys()]));
  const times: number[][] = targets.map(() => []);
  for (let k = 0; k < kills; k++) {
    for (const [i, t] of targets.entries()) {
      const victim = victims[i]?.[k];
      if (victim === undefined) continue;
      const { State } = await api.getContainer(victim).inspect();
      const t0 = performance.now();
      process.kill(State.Pid, 'SIGKILL');
      await waitFor('a heal', () => healthy(t), 60_000);
      times[i]?.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return times;
}

/**
 * Removes one replica of `target` (`docker rm -f`, the case: no
 * restart policy brings it back) `count` times, each timed until all of the
 * target's replicas answer again.
 */
async function removals(target: Target, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let k = 0; k < count; k++) {
    const [victim] = (await waitFor('replicas to heal', () => healthy(target), 120_000, 100)).keys();
    if (victim === undefined) break;
    const t0 = performance.now();
    await api.getContainer(victim).remove({ force: true });
    await waitFor('a removed replica to come back', () => healthy(target), 60_000);
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 300));
  }
  return times;
}

/** `count` containers with --restart=always, as a user would run them; removed by `cleanup`. */
async function restartAlways(label: string, count: number): Promise<Target> {
  for (let i = 0; i < count; i++) await docker('run', '-d', '--restart=always', '--label', label, '--name', `lanes-bench-${id}-${label.split('.')[2]?.split('=')[0] ?? ''}-${i}`, IMAGE, 'sh', '-c', HTTPD);
  return { labels: [label], count };
}

const slow = (release: number): string => `name: slow${id}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEPER)}]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 3, update_config: { parallelism: 1, monitor: 20s, order: start-first } }
`;
const healStack = `name: heal${id}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(HTTPD)}]
    deploy: { replicas: ${KILLS} }
`;
const push = (release: number): string => `name: push${id}
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEPER)}]
    environment: { RELEASE: "${release}" }
    deploy: { update_config: { monitor: 0s } }
`;
const small = (n: number): string => `name: s${n}x${id}
services:
  app:
    image: ${IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEPER)}]
`;

type Daemon = RunningDaemon;

function startDaemon(repo: Repo, dataDir: string, instance: string, extra: string[] = []): Promise<Daemon> {
  return startCapstan({ repo: repo.dir, instance, dataDir, args: ['--status-branch', 'none', ...extra], env: { CAPSTAN_WEBHOOK_SECRET: SECRET } });
}

const hook = (d: Daemon): Promise<void> => genericHook(d, SECRET);

async function cleanup(instance: string, labels: string[] = []): Promise<void> {
  await cleanupInstance(instance);
  for (const l of labels) await removeContainers(l);
}

/** One container create + start through the Engine API (as `docker run -d`), removed after. */
async function containerStart(): Promise<number> {
  const t0 = performance.now();
  const c = await api.createContainer({ Image: IMAGE, Cmd: ['sh', '-c', SLEEPER], Labels: { 'bench.lanes': id } });
  await c.start();
  const ms = performance.now() - t0;
  await c.remove({ force: true });
  return ms;
}

async function rolloutRun(root: string): Promise<{ healDuring: number[]; alwaysDuring: number[]; removedDuring: number[]; healIdle: number[]; alwaysIdle: number[]; pushes: number[]; starts: number[]; rolloutSeconds: number }> {
  const repo = await Repo.create(root);
  const instance = `lanes-bench-${id}`;
  await repo.commit({ [`stacks/slow.yaml`]: slow(1), [`stacks/heal.yaml`]: healStack, [`stacks/push.yaml`]: push(0) }, 'start');
  const d = await startDaemon(repo, join(root, 'data'), instance, ['--interval', '1h']);
  // The peer's replicas, one set for each phase (each is killed once).
  const alwaysA = await restartAlways(`bench.lanes.a=${id}`, KILLS);
  const alwaysB = await restartAlways(`bench.lanes.b=${id}`, KILLS);
  try {
    await waitFor('all three stacks converged', async () => {
      const l = await lanes(d);
      return l.length === 3 && l.every((x) => x.outcome === 'converged') ? true : undefined;
    }, 120_000, 200);
    // The long rollout begins.
    await repo.commit({ 'stacks/slow.yaml': slow(2) }, 'slow release 2');
    const rolloutStarted = performance.now();
    await hook(d);
    const rolling = async (): Promise<boolean> => (await lanes(d)).find((l) => l.stack === `slow${id}`)?.outcome === 'progressing';
    await waitFor('the rollout to start', async () => ((await rolling()) ? true : undefined), 30_000, 50);

    const heal: Target = { labels: [`io.capstan.instance=${instance}`, `io.capstan.stack=heal${id}`], count: KILLS };
    const [healDuring = [], alwaysDuring = []] = await alternatingHeals([heal, alwaysA], KILLS);
    const removedDuring = await removals(heal, REMOVALS);
    const pushes: number[] = [];
    const starts: number[] = [];
    for (let i = 1; i <= PUSHES; i++) {
      starts.push(await containerStart());
      await repo.commit({ 'stacks/push.yaml': push(i) }, `push release ${i}`);
      const sha = await repo.head();
      const t0 = performance.now();
      await hook(d);
      await waitFor('the pushed revision to run', async () => {
        const r = await running([`io.capstan.instance=${instance}`, `io.capstan.stack=push${id}`]);
        return [...r.values()].some((c) => c.labels['io.capstan.revision'] === sha) ? true : undefined;
      }, 60_000, 5);
      pushes.push(performance.now() - t0);
      // Let the one-replica update finish before the next push (it retires the old replica).
      await waitFor('the push stack converged', async () => ((await lanes(d)).find((l) => l.stack === `push${id}`)?.outcome === 'converged' ? true : undefined), 30_000, 50);
    }
    const stillRolling = await rolling();
    await waitFor('the rollout to end', async () => ((await lanes(d)).find((l) => l.stack === `slow${id}`)?.outcome === 'converged' ? true : undefined), 180_000, 200);
    const rolloutSeconds = (performance.now() - rolloutStarted) / 1000;
    if (!stillRolling) console.error('note: the rollout ended before the pushes did; (b) was partly measured with no rollout running');
    // Idle Capstan: the same kills, nothing else going on. On fresh replicas (Capstan recreates the removed ones):
    // a second kill of a replica within a minute would be a crash loop, rightly backed off.
    await docker('rm', '-f', ...(await docker('ps', '-aq', '--filter', `label=io.capstan.stack=heal${id}`)).split('\n').filter(Boolean));
    const [healIdle = [], alwaysIdle = []] = await alternatingHeals([heal, alwaysB], KILLS);
    return { healDuring, alwaysDuring, removedDuring, healIdle, alwaysIdle, pushes, starts, rolloutSeconds };
  } finally {
    await stopDaemon(d);
    await cleanup(instance, [`bench.lanes.a=${id}`, `bench.lanes.b=${id}`]);
  }
}

/** No-op lane passes as the daemon runs them, one at a time in this process (the pass alone: no other lane competes). */
async function noopPasses(repo: Repo, dataDir: string, instance: string, rounds: number): Promise<number[]> {
  const settings = resolveSettings({ repo: repo.dir, instance, dataDir, router: 'none' }, {});
  const ctx = await createPassContext(settings, silentLogger());
  const model = await ctx.desired.loadRevision(await ctx.source.resolve());
  const deps: StackPassDeps = {
    backend: ctx.backend, instance, publishPorts: ctx.publishPorts, contents: ctx.contents, materialize: (r) => ctx.source.materialize(r), readBlob: (r, blob) => ctx.source.readBlob(r, blob),
    rollout: ctx.rollout, parallelism: settings.parallelism, logger: silentLogger(), now: Date.now, syncAllowed: () => true, force: false, hooks: undefined, report: undefined,
  };
  const memory = new Map([...model.stacks.keys()].map((s) => [s, newLaneMemory()]));
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const [stack, at] of model.stacks) {
      const t0 = performance.now();
      const outcome = await runStackPass(stack, at, memory.get(stack) ?? newLaneMemory(), deps);
      times.push(performance.now() - t0);
      if (outcome.kind !== 'converged' || outcome.planned > 0) throw new Error(`${stack}: a no-op pass ended ${outcome.kind} with ${outcome.planned} operations`);
    }
  }
  return times;
}

async function manyStacksRun(root: string): Promise<{ noop: number[]; lanePass: number[]; resyncMs: number[]; idleCpu: number }> {
  const repo = await Repo.create(root);
  const instance = `lanes-bench-many-${id}`;
  const files: Record<string, string> = {};
  for (let n = 1; n <= STACKS; n++) files[`stacks/s${n}.yaml`] = small(n);
  await repo.commit(files, `${STACKS} stacks`);
  const d = await startDaemon(repo, join(root, 'data'), instance, ['--interval', '30s']);
  try {
    await waitFor(`${STACKS} stacks converged`, async () => {
      const l = await lanes(d);
      return l.length === STACKS && l.every((x) => x.outcome === 'converged' && !x.running) ? true : undefined;
    }, 300_000, 500);
    // Settle: the first passes' follow-ups (status, probes) are done.
    await new Promise((r) => setTimeout(r, 3000));
    const noop: number[] = [];
    const resyncMs: number[] = [];
    for (let round = 0; round < 8; round++) {
      const sync = await syncAndWait(d, 60_000, 5);
      resyncMs.push(sync.ms);
      for (const l of sync.lanes) noop.push(l.durationSeconds * 1000);
      await new Promise((r) => setTimeout(r, 500));
    }
    // Idle: nothing changes for a minute (two polls of the branch happen meanwhile).
    const pid = d.pid;
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 60_000));
    const idleCpu = (cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1000);
    const lanePass = await noopPasses(repo, join(root, 'data-inproc'), instance, 8);
    return { noop: lanePass, lanePass: noop, resyncMs, idleCpu };
  } finally {
    await stopDaemon(d);
    await cleanup(instance);
  }
}

const root = mkdtempSync(join(tmpdir(), 'lanes-bench-'));
try {
  console.error('bench:lanes — (a)+(b) during a ~60 s rolling update, then (a) idle…');
  const r = await rolloutRun(join(root, 'a'));
  console.error(`bench:lanes — (c) ${STACKS} stacks…`);
  const many = await manyStacksRun(join(root, 'c'));
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const lines = [
    `## Lanes (issue 11): one stack's ~${r.rolloutSeconds.toFixed(0)} s rolling update holds nothing else up`,
    '',
    '| measure (2 cores shared with other work) | p50 | p95 | vs peer (p50) |',
    '|---|---|---|---|',
    `| (a) heal of a killed replica in another stack, during the rollout (${r.healDuring.length} kills) | ${ms(pct(r.healDuring, 50))} | ${ms(pct(r.healDuring, 95))} | ${(pct(r.healDuring, 50) / pct(r.alwaysDuring, 50)).toFixed(2)}× --restart=always |`,
    `| (a) peer, killed in turn with those: docker --restart=always | ${ms(pct(r.alwaysDuring, 50))} | ${ms(pct(r.alwaysDuring, 95))} | 1 |`,
    `| (a) a removed replica (docker rm -f) of that stack back, during the rollout (${r.removedDuring.length} removals) | ${ms(pct(r.removedDuring, 50))} | ${ms(pct(r.removedDuring, 95))} | ${(pct(r.removedDuring, 50) / pct(r.alwaysDuring, 50)).toFixed(2)}× the peer's restart |`,
    `| (a) the same after the rollout, Capstan idle (${r.healIdle.length} kills) | ${ms(pct(r.healIdle, 50))} | ${ms(pct(r.healIdle, 95))} | ${(pct(r.healIdle, 50) / pct(r.alwaysIdle, 50)).toFixed(2)}× --restart=always |`,
    `| (a) peer, killed in turn with those: docker --restart=always | ${ms(pct(r.alwaysIdle, 50))} | ${ms(pct(r.alwaysIdle, 95))} | 1 |`,
    `| (b) webhook → the pushed revision runs, another stack, during the rollout (${r.pushes.length} pushes) | ${ms(pct(r.pushes, 50))} | ${ms(pct(r.pushes, 95))} | start + ${ms(pct(r.pushes, 50) - pct(r.starts, 50))} |`,
    `| (b) peer: one container create + start (Engine API) | ${ms(pct(r.starts, 50))} | ${ms(pct(r.starts, 95))} | 1 |`,
    `| (c) no-op lane pass, one of ${STACKS} stacks (${many.noop.length} passes, one at a time) | ${pct(many.noop, 50).toFixed(1)} ms | ${pct(many.noop, 95).toFixed(1)} ms | |`,
    `| (c) a sync of all ${STACKS} lanes at once (API call → every lane passed) | ${ms(pct(many.resyncMs, 50))} | ${ms(pct(many.resyncMs, 95))} | |`,
    `| (c) one lane's pass within that sync, as the daemon timed it | ${pct(many.lanePass, 50).toFixed(1)} ms | ${pct(many.lanePass, 95).toFixed(1)} ms | |`,
    `| (c) operator CPU while idle, ${STACKS} stacks, 30 s poll (60 s) | ${(many.idleCpu * 100).toFixed(2)} % of a core | | |`,
    '',
  ];
  const text = lines.join('\n');
  console.log(text);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/lanes.md', `${text}\nGoals: (a) ≤ 1.5× --restart=always; (b) < 1 s + one container start; (c) no-op < 50 ms, idle CPU < 1 %.\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
  const ids = (await docker('ps', '-aq', '--filter', `label=bench.lanes=${id}`)).split('\n').filter(Boolean);
  if (ids.length > 0) await docker('rm', '-f', ...ids);
}
