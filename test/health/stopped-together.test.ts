import { describe, expect, it } from 'vitest';
import { looksStopped, stoppedTogether, STOPPED_TOGETHER_MS } from '../../src/health/stopped-together.js';
import type { ContainerState, LastRun } from '../../src/observed/model.js';

const ROLLOUT = 1_000_000;
const run = (name: string, state: ContainerState, lastRun?: Partial<LastRun>) => ({
  name, state, lastRun: lastRun === undefined ? undefined : { startedAt: ROLLOUT - 60_000, finishedAt: ROLLOUT + 5000, exitCode: 0, oomKilled: false, ...lastRun },
});

describe('a replica stopped together with its stack', () => {
  const twin = run('web-api-1-next', 'exited', { startedAt: ROLLOUT + 1000 });

  it('names the containers from before the rollout that stopped within moments of it', () => {
    const stack = [twin, run('web-api-1', 'exited', { finishedAt: ROLLOUT + 5000 + STOPPED_TOGETHER_MS }), run('web-worker-1', 'dead', { finishedAt: ROLLOUT + 4000 }), run('web-api-2', 'running')];
    expect(stoppedTogether(twin, stack, ROLLOUT)).toEqual(['web-api-1', 'web-worker-1']);
  });

  it('is alone when the rest runs, stopped long before, or belongs to the release', () => {
    const stack = [twin, run('web-api-1', 'running'), run('web-job-1', 'exited', { finishedAt: ROLLOUT - 600_000 }), run('web-api-2-next', 'exited', { startedAt: ROLLOUT + 1000 })];
    expect(stoppedTogether(twin, stack, ROLLOUT)).toEqual([]);
    expect(stoppedTogether(run('web-api-1', 'running'), [twin], ROLLOUT)).toEqual([]);
  });

  it('tells an exit that looks like a stop from a crash', () => {
    for (const exitCode of [0, 130, 137, 143]) expect(looksStopped(run('a', 'exited', { exitCode }))).toBe(true);
    expect(looksStopped(run('a', 'exited', { exitCode: 1 }))).toBe(false);
    expect(looksStopped(run('a', 'exited', { exitCode: 137, oomKilled: true }))).toBe(false);
    expect(looksStopped(run('a', 'running'))).toBe(false);
  });
});
