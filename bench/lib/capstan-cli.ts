// Capstan as a user runs it from a shell or a CI job: `capstan apply` as a
// whole process, so Node start-up, module loading, the Git fetch over HTTP
// and the engine snapshot are all inside the number. Each cold round uses a
// fresh data dir (no Git cache) after removing the instance's objects.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';
import { removeContainers, removeNetworks, removeServices, runningContainers, runningServices } from './engine.js';
import type { GitFixture } from './git-fixture.js';
import type { Contender } from './results.js';
import { SERVICE_COUNT } from './stack.js';
import { startDaemon, stopDaemon } from './capstan-run.js';
import { waitFor, waitUntil } from './timing.js';

export const CAPSTAN_BIN = new URL('../../bin/capstan.mjs', import.meta.url).pathname;

/**
 * The CLI and the in-daemon contender share one instance (and so one set of
 * container names, `bench-svcNN-1`): each starts its cold round by clearing
 * the instance, and each pushes its own commit for its change round.
 */
export interface CapstanTarget {
  repo: GitFixture;
  instance: string;
  /** Where fresh data dirs are made. */
  scratch: string;
  /** Push the next generation of the stack (one service's environment changes). */
  pushChange(): Promise<void>;
  /** `swarm`: `--backend swarm` against the manager DOCKER_HOST names (bench/swarm.ts). */
  backend?: 'docker' | 'swarm';
}

export async function cleanupInstance(instance: string, backend: CapstanTarget['backend'] = 'docker'): Promise<void> {
  if (backend === 'swarm') return removeServices(`io.capstan.instance=${instance}`);
  await removeContainers(`io.capstan.instance=${instance}`);
  await removeNetworks(`io.capstan.instance=${instance}`);
}

/**
 * Every service running. On a swarm, `capstan apply` (like `docker stack
 * deploy`) returns before new services' tasks start: they are waited for
 * here, polled as the peer's are, and the wait is part of the time.
 */
export async function expectConverged(instance: string, who: string, backend: CapstanTarget['backend'] = 'docker'): Promise<void> {
  const label = `io.capstan.instance=${instance}`;
  if (backend === 'swarm') await waitUntil(`${who}: every service running`, async () => (await runningServices(label)) === SERVICE_COUNT, { timeoutMs: 120_000, intervalMs: 50 }).catch(() => undefined);
  const running = backend === 'swarm' ? await runningServices(label) : await runningContainers(label);
  if (running !== SERVICE_COUNT) throw new Error(`${who}: ${running}/${SERVICE_COUNT} ${backend === 'swarm' ? 'services' : 'containers'} running afterwards`);
}

/** Applied-operation count, read from `capstan apply`'s stdout ("Applied N operations"). */
function appliedCount(stdout: string): number {
  const m = /Applied (\d+) operation/.exec(stdout);
  return m === null ? 0 : Number(m[1]);
}

export function createCapstanCli(target: CapstanTarget): Contender {
  const notes = new Set<string>();
  let dataDir = '';
  const apply = async (): Promise<{ ms: number; applied: number }> => {
    const { ms, stdout } = await run(
      process.execPath,
      [CAPSTAN_BIN, 'apply', '--repo', target.repo.url, '--instance', target.instance, '--data-dir', dataDir, '--log-level', 'warn', '--backend', target.backend ?? 'docker'],
      { timeoutMs: 180_000 },
    );
    return { ms, applied: appliedCount(stdout) };
  };
  const dropDataDir = async () => {
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  };

  return {
    name: 'capstan CLI',
    notes,
    async cold() {
      await cleanupInstance(target.instance, target.backend);
      await dropDataDir();
      dataDir = await mkdtemp(join(target.scratch, 'cli-data-'));
      const started = performance.now();
      await apply();
      await expectConverged(target.instance, 'capstan apply (cold)', target.backend);
      return performance.now() - started;
    },
    async noop() {
      const { ms, applied } = await apply();
      if (applied !== 0) notes.add(`capstan CLI: a no-op apply applied ${applied} operations`);
      return [ms];
    },
    async change() {
      await target.pushChange();
      const { ms, applied } = await apply();
      await expectConverged(target.instance, 'capstan apply (change)', target.backend);
      if (applied !== 1) notes.add(`capstan CLI: a one-service change applied ${applied} operations`);
      return ms;
    },
    async dispose() {
      await cleanupInstance(target.instance, target.backend);
      await dropDataDir();
    },
  };
}

/**
 * `capstan apply` while a daemon (`capstan run`) leads the instance: the
 * command asks the daemon, which makes the pass in its lanes. The daemon runs
 * only inside this contender's own calls (the others share the instance),
 * started untimed and ready before a no-op or a change is timed; its cold
 * round times the daemon's start with the command.
 */
export function createCapstanCliViaDaemon(target: CapstanTarget, noopPerRound: number): Contender {
  const notes = new Set<string>();
  const token = randomBytes(16).toString('hex');
  let dataDir = '';
  const withDaemon = async <T>(work: (listen: string) => Promise<T>, ready: boolean): Promise<T> => {
    const d = await startDaemon({ repo: target.repo.url, instance: target.instance, dataDir, args: ['--backend', target.backend ?? 'docker', '--interval', '1h', '--resync', '1h'], env: { CAPSTAN_API_TOKEN: token, CAPSTAN_LOG_LEVEL: 'info' } });
    try {
      if (ready) await waitFor('the daemon ready', async () => ((await fetch(`${d.base}/readyz`)).ok ? true : undefined), 120_000, 20);
      const result = await work(new URL(d.base).host);
      if (!d.logs().includes('capstan apply asked')) notes.add('capstan CLI → daemon: the command did not reach the daemon');
      return result;
    } finally {
      await stopDaemon(d);
    }
  };
  const apply = async (listen: string): Promise<{ ms: number; applied: number }> => {
    const { ms, stdout } = await run(
      process.execPath,
      [CAPSTAN_BIN, 'apply', '--repo', target.repo.url, '--instance', target.instance, '--data-dir', dataDir, '--log-level', 'warn', '--backend', target.backend ?? 'docker', '--listen', listen],
      { timeoutMs: 180_000, env: { ...process.env, CAPSTAN_API_TOKEN: token } },
    );
    return { ms, applied: appliedCount(stdout) };
  };

  return {
    name: 'capstan CLI → daemon',
    notes,
    async cold() {
      await cleanupInstance(target.instance, target.backend);
      if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
      dataDir = await mkdtemp(join(target.scratch, 'cli-daemon-data-'));
      notes.add("capstan CLI → daemon: its cold round includes the daemon's start (whose first pass deploys)");
      const started = performance.now();
      await withDaemon(async (listen) => {
        await apply(listen);
        await expectConverged(target.instance, 'capstan apply → daemon (cold)', target.backend);
      }, false);
      return performance.now() - started;
    },
    async noop() {
      return withDaemon(async (listen) => {
        const samples: number[] = [];
        for (let i = 0; i < noopPerRound; i++) {
          const { ms, applied } = await apply(listen);
          if (applied !== 0) notes.add(`capstan CLI → daemon: a no-op apply applied ${applied} operations`);
          samples.push(ms);
        }
        return samples;
      }, true);
    },
    async change() {
      return withDaemon(async (listen) => {
        await target.pushChange();
        const { ms, applied } = await apply(listen);
        await expectConverged(target.instance, 'capstan apply → daemon (change)', target.backend);
        if (applied !== 1) notes.add(`capstan CLI → daemon: a one-service change applied ${applied} operations`);
        return ms;
      }, true);
    },
    async dispose() {
      await cleanupInstance(target.instance, target.backend);
      if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
    },
  };
}
