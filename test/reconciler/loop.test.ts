// The daemon loop's timing rules, with fake timers: failures back off
// (1 s doubling, capped at the interval), a bad commit waits the normal
// interval, triggers during a pass coalesce into one more pass, and abort
// lets the pass in flight finish.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GitFetchError, ManifestsInvalidError, ValidationError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import { ReconcileLoop } from '../../src/reconciler/loop.js';
import type { PassResult } from '../../src/reconciler/pass.js';

const ok: PassResult = { revision: 'a'.repeat(40), plan: { revision: 'a'.repeat(40), instance: 't', operations: [], services: [] }, applied: 0 };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Starts a loop whose passes record the fake time they ran at. */
function start(pass: () => Promise<PassResult>, intervalMs = 30_000) {
  const times: number[] = [];
  const loop = new ReconcileLoop({
    intervalMs,
    logger: silentLogger(),
    pass: () => {
      times.push(Date.now());
      return pass();
    },
  });
  const stop = new AbortController();
  const done = loop.run(stop.signal);
  return { loop, times, stop, done, t0: Date.now() };
}

describe('ReconcileLoop', () => {
  it('polls at the interval while passes succeed', async () => {
    const { times, stop, done, t0 } = start(async () => ok, 10_000);
    await vi.advanceTimersByTimeAsync(35_000);
    stop.abort();
    await done;
    expect(times.map((t) => t - t0)).toEqual([0, 10_000, 20_000, 30_000]);
  });

  it('backs off 1 s, 2 s, 4 s … capped at the interval after failures, and resets on success', async () => {
    let calls = 0;
    const { times, stop, done, t0 } = start(async () => {
      calls++;
      if (calls <= 5) throw new GitFetchError('http://git.example/infra.git', 'connection refused');
      return ok;
    }, 10_000);
    await vi.advanceTimersByTimeAsync(40_000);
    stop.abort();
    await done;
    // Five failures wait 1, 2, 4, 8 s, then min(16 s, interval) = 10 s; the success at 25 s returns to the interval.
    expect(times.map((t) => t - t0)).toEqual([0, 1_000, 3_000, 7_000, 15_000, 25_000, 35_000]);
  });

  it('does not hurry a bad commit: it waits the normal interval', async () => {
    const invalid = new ManifestsInvalidError([new ValidationError({ file: 'stacks/a.yaml', line: 1, col: 1 }, '', 'bad')]);
    const { times, stop, done, t0 } = start(async () => {
      throw invalid;
    }, 5_000);
    await vi.advanceTimersByTimeAsync(12_000);
    stop.abort();
    await done;
    expect(times.map((t) => t - t0)).toEqual([0, 5_000, 10_000]);
  });

  it('coalesces triggers that arrive during a pass into one more pass, right after it', async () => {
    let release: (() => void) | undefined;
    const { loop, times, stop, done, t0 } = start(
      () => new Promise<PassResult>((resolve) => {
        release = () => resolve(ok);
      }),
      60_000,
    );
    await vi.advanceTimersByTimeAsync(100);
    for (let i = 0; i < 10; i++) loop.trigger('webhook');
    await vi.advanceTimersByTimeAsync(900);
    release?.();
    await vi.advanceTimersByTimeAsync(0);
    release?.();
    await vi.advanceTimersByTimeAsync(5_000);
    stop.abort();
    await done;
    expect(times.map((t) => t - t0)).toEqual([0, 1_000]);
  });

  it('wakes from its sleep on a trigger', async () => {
    const { loop, times, stop, done, t0 } = start(async () => ok, 60_000);
    await vi.advanceTimersByTimeAsync(2_000);
    loop.trigger('webhook');
    await vi.advanceTimersByTimeAsync(1);
    stop.abort();
    await done;
    expect(times.map((t) => t - t0)).toEqual([0, 2_000]);
  });
});
