// Issue 2's benchmark: Capstan against docker-compose v1, `docker stack
// deploy` and the physical floor, in one run on one engine and one
// 20-service stack, so the ratios compare like with like. Floor, compose and
// both Capstan modes run interleaved round by round (bench/lib/rounds.ts);
// swarm runs in its own block after them, because swarm mode changes the
// engine the others would be measured on. Every contender cleans up what it
// made. Prints a markdown table and writes it to bench/results/converge.md.
// Run through `npm run bench` (scripts/bench.sh bundles this file first).
//
// BENCH_QUICK=1 takes one sample per measurement (for working on the bench);
// BENCH_SKIP_SWARM=1 leaves swarm out.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPSTAN_BIN, createCapstanCli, type CapstanTarget } from './lib/capstan-cli.js';
import { createCapstanDaemon } from './lib/capstan-daemon.js';
import { createCompose } from './lib/compose-peer.js';
import { docker, takenNames } from './lib/engine.js';
import { run, timed } from './lib/exec.js';
import { createFloor } from './lib/floor.js';
import { startGitFixture } from './lib/git-fixture.js';
import { renderReport } from './lib/report.js';
import type { Contender, ContenderResult } from './lib/results.js';
import { runInterleaved } from './lib/rounds.js';
import { SERVICE_COUNT, serviceName } from './lib/stack.js';
import { createSwarm, ensureSwarm, leaveSwarm, type SwarmHandle } from './lib/swarm-peer.js';
import { repeat } from './lib/timing.js';

const quick = process.env['BENCH_QUICK'] === '1';
const skipSwarm = process.env['BENCH_SKIP_SWARM'] === '1';
const ROUNDS = quick ? { cold: 1, noop: 1, change: 1 } : { cold: 5, noop: 5, change: 5 };
/** Passes per no-op round inside the daemon: 5 rounds × 4 = the N=20. */
const DAEMON_NOOP_PER_ROUND = 4;

// Unique per run, so leftovers of a crashed earlier run never collide with this one.
const RUN_ID = `${process.pid}`;
const COMPOSE_PROJECT = `capbenchc${RUN_ID}`;
const SWARM_STACK = `capbenchs${RUN_ID}`;
const CAPSTAN_INSTANCE = `bench-${RUN_ID}`;
// Resolved from the bundle's place, .tmp/bench/converge.mjs (the only way this file runs).
const RESULTS = new URL('../../bench/results/converge.md', import.meta.url).pathname;

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function machine(): Promise<string> {
  const version = await docker.version();
  const compose = (await run('/usr/bin/docker-compose', ['version', '--short'], { allowFailure: true })).stdout.trim();
  return `${cpus().length} CPU (${cpus()[0]?.model ?? '?'}), Node ${process.version}, Docker ${version.Version}, docker-compose ${compose}`;
}

function resultOf(results: Map<string, ContenderResult>, c: Contender): ContenderResult {
  const r = results.get(c.name);
  if (r === undefined) throw new Error(`no result for ${c.name}`);
  return r;
}

async function main(): Promise<void> {
  // Capstan names containers <stack>-<service>-<n> with no instance in it: refuse to run over someone's `bench` stack.
  const taken = await takenNames(Array.from({ length: SERVICE_COUNT }, (_, i) => `bench-${serviceName(i)}-1`));
  if (taken.length > 0) throw new Error(`containers named ${taken.join(', ')} exist; remove them (or the stack that owns them) before benchmarking`);
  const loadBefore = loadavg()[0] ?? 0;

  const scratch = await mkdtemp(join(tmpdir(), 'capstan-bench-'));
  let generation = 0;
  const repo = await startGitFixture(scratch, generation);
  const target: CapstanTarget = { repo, instance: CAPSTAN_INSTANCE, scratch, pushChange: () => repo.push(++generation) };
  const contenders: Contender[] = [];
  const swarm: SwarmHandle = { initializedHere: false, gwbridgeMadeHere: false };

  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      for (const c of contenders) await c.dispose().catch((e: unknown) => progress(`cleanup of ${c.name} failed: ${String(e)}`));
      await leaveSwarm(swarm).catch((e: unknown) => progress(`could not leave the swarm: ${String(e)}`));
      await repo.close();
      await rm(scratch, { recursive: true, force: true });
    })();
    return cleaning;
  };
  const onSignal = () => {
    progress('interrupted; cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    progress('start-up costs');
    const startupRounds = quick ? 1 : 5;
    const startup = {
      nodeBare: await repeat(startupRounds, () => timed(process.execPath, ['-e', ''])),
      capstanHelp: await repeat(startupRounds, () => timed(process.execPath, [CAPSTAN_BIN, '--help'])),
      composeVersion: await repeat(startupRounds, () => timed('/usr/bin/docker-compose', ['version'])),
    };

    const floor = createFloor();
    const compose = await createCompose(join(scratch, 'compose'), COMPOSE_PROJECT);
    const cli = createCapstanCli(target);
    const daemon = createCapstanDaemon(target, quick ? 5 : DAEMON_NOOP_PER_ROUND);
    contenders.push(floor, compose, cli, daemon);
    progress(`floor, docker-compose (project ${COMPOSE_PROJECT}), capstan CLI and in-daemon (instance ${CAPSTAN_INSTANCE}), interleaved`);
    const interleaved = await runInterleaved(contenders, ROUNDS, progress);
    for (const c of [floor, compose, cli, daemon]) await c.dispose();

    let swarmResult: ContenderResult | undefined;
    if (!skipSwarm) {
      progress(`swarm (stack ${SWARM_STACK})`);
      Object.assign(swarm, await ensureSwarm());
      const peer = await createSwarm(join(scratch, 'swarm'), SWARM_STACK);
      contenders.push(peer);
      swarmResult = resultOf(await runInterleaved([peer], ROUNDS, progress), peer);
      await peer.dispose();
      // The numbers are in hand: a failed leave or bridge removal is reported, never loses them.
      await leaveSwarm(swarm).catch((e: unknown) => progress(`swarm clean-up: ${String(e)}`));
    }

    const report = renderReport({
      when: new Date().toISOString(),
      machine: await machine(),
      load: { before: loadBefore, after: loadavg()[0] ?? 0 },
      floor: resultOf(interleaved, floor).cold,
      compose: resultOf(interleaved, compose),
      swarm: swarmResult,
      cli: resultOf(interleaved, cli),
      daemon: resultOf(interleaved, daemon),
      daemonSetupMs: daemon.setupMs(),
      startup,
    });
    process.stdout.write(`${report}\n`);
    await mkdir(join(RESULTS, '..'), { recursive: true });
    await writeFile(RESULTS, `${report}\n`);
    progress('written to bench/results/converge.md');
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
