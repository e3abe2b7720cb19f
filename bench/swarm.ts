// Issue 13's benchmark: `capstan apply --backend swarm` (the CLI, and a pass
// inside a running daemon) against `docker stack deploy --resolve-image
// never` of the same 20-service file, in one run, on the same 3-node swarm
// (scripts/swarm-harness.sh; bench/swarm.sh starts it and points DOCKER_HOST
// at its manager), interleaved round by round: cold (nothing deployed →
// every service running), no-op (nothing to change), one change (one
// service's environment → its new task running). Prints a markdown table and
// writes bench/results/swarm.md. The host's own engine is never used.
//
// BENCH_QUICK=1 takes one sample per measurement.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCapstanCli, createCapstanCliViaDaemon, type CapstanTarget } from './lib/capstan-cli.js';
import { createCapstanDaemon } from './lib/capstan-daemon.js';
import { docker, swarmState } from './lib/engine.js';
import { startGitFixture } from './lib/git-fixture.js';
import type { Contender, ContenderResult } from './lib/results.js';
import { runInterleaved } from './lib/rounds.js';
import { SERVICE_COUNT } from './lib/stack.js';
import { createSwarm } from './lib/swarm-peer.js';
import { formatMs, type Samples } from './lib/timing.js';

const quick = process.env['BENCH_QUICK'] === '1';
const ROUNDS = quick ? { cold: 1, noop: 1, change: 1 } : { cold: 3, noop: 5, change: 3 };
const DAEMON_NOOP_PER_ROUND = 4;
const RUN_ID = `${process.pid}`;
const RESULTS = new URL('../../bench/results/swarm.md', import.meta.url).pathname;

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

const ratio = (a: Samples | undefined, b: Samples | undefined): string => (a === undefined || b === undefined ? '–' : `${(b.median / a.median).toFixed(2)}×`);

function table(results: Map<string, ContenderResult>, order: readonly Contender[], peer: Contender): string {
  const peerResult = results.get(peer.name);
  const rows = order.map((c) => {
    const r = results.get(c.name);
    if (r === undefined) return '';
    const cell = (s: Samples | undefined, p: Samples | undefined) => (s === undefined ? '–' : `${formatMs(s.median)} (p95 ${formatMs(s.p95)})${c === peer ? '' : `, peer/this ${ratio(s, p)}`}`);
    return `| ${c.name} | ${cell(r.cold, peerResult?.cold)} | ${cell(r.noop, peerResult?.noop)} | ${cell(r.change, peerResult?.change)} |`;
  });
  return ['| contender | cold (20 services) | no-op | one change |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

async function main(): Promise<void> {
  if ((await swarmState()) !== 'active') throw new Error(`DOCKER_HOST (${process.env['DOCKER_HOST'] ?? 'unset'}) is no swarm manager: run this through bench/swarm.sh`);
  const nodes = (await docker.listNodes()).length;
  const loadBefore = loadavg()[0] ?? 0;
  const scratch = await mkdtemp(join(tmpdir(), 'capstan-bench-swarm-'));
  let generation = 0;
  const repo = await startGitFixture(scratch, generation);
  const target: CapstanTarget = { repo, instance: `bench-${RUN_ID}`, scratch, pushChange: () => repo.push(++generation), backend: 'swarm' };
  const cli = createCapstanCli(target);
  const daemon = createCapstanDaemon(target, quick ? 2 : DAEMON_NOOP_PER_ROUND);
  // Its own stack name: Capstan's stack is `bench`, and Swarm services are named <stack>_<service>.
  const peer = await createSwarm(join(scratch, 'swarm'), `capbenchs${RUN_ID}`, { untilUpdateCompleted: true });
  const viaDaemon = createCapstanCliViaDaemon(target, quick ? 1 : 2);
  const contenders: Contender[] = [cli, viaDaemon, daemon, peer];
  try {
    progress(`capstan CLI, capstan CLI → daemon, capstan in-daemon and docker stack deploy on a ${nodes}-node swarm, interleaved`);
    // The Capstan contenders share one instance: each cold round clears it first.
    const results = await runInterleaved(contenders, ROUNDS, progress);
    const version = await docker.version();
    const notes = contenders.flatMap((c) => [...(results.get(c.name)?.notes ?? [])]);
    const report = [
      `## Swarm backend: capstan vs \`docker stack deploy --resolve-image never\` (${SERVICE_COUNT} services, ${nodes} nodes)`,
      '',
      `${new Date().toISOString()} · ${cpus().length} CPU, Node ${process.version}, Docker ${version.Version} · load ${loadBefore.toFixed(2)} → ${(loadavg()[0] ?? 0).toFixed(2)} · rounds: cold ${ROUNDS.cold}, no-op ${ROUNDS.noop} (daemon ×${DAEMON_NOOP_PER_ROUND}), change ${ROUNDS.change}`,
      '',
      table(results, contenders, peer),
      '',
      'Median (p95); "peer/this" > 1 means Capstan is faster than `docker stack deploy`. Cold runs until every service has its task running; a change until the new task runs and Swarm reports the update completed (after update_config.monitor: Capstan waits for that verdict to report a rollback honestly, so the peer is timed to the same point). Capstan\'s apply waits itself; the peer is polled through the API. The no-op is one command (or one in-daemon pass) that changes nothing.',
      ...(notes.length > 0 ? ['', ...notes.map((n) => `- ${n}`)] : []),
    ].join('\n');
    process.stdout.write(`${report}\n`);
    await mkdir(join(RESULTS, '..'), { recursive: true });
    await writeFile(RESULTS, `${report}\n`);
    progress('written to bench/results/swarm.md');
  } finally {
    for (const c of contenders) await c.dispose().catch((e: unknown) => progress(`cleanup of ${c.name} failed: ${String(e)}`));
    await repo.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
