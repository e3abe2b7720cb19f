// The HPA decision on an injected clock.

import { describe, expect, it } from 'vitest';
import type { AutoscaleSpec } from '../../src/manifests/model.js';
import { decide, recommend, startAutoscale, type AutoscaleState } from '../../src/strategies/autoscale.js';

const spec: AutoscaleSpec = { min: 2, max: 8, target: { kind: 'rps', perReplica: 100 }, cooldownMs: 60_000 };

/** Feeds samples of total load (requests/s over all replicas) every 5 s from `from`; the counts chosen. */
function run(state: AutoscaleState, loads: readonly number[], from = 0): { counts: number[]; state: AutoscaleState } {
  const counts: number[] = [];
  loads.forEach((load, i) => {
    state = decide(spec, state, load / state.replicas, from + i * 5000).state;
    counts.push(state.replicas);
  });
  return { counts, state };
}

describe('autoscale decision (HPA)', () => {
  it('computes ceil(current × metric / target) and leaves the count alone within 10 %', () => {
    expect(recommend(4, 150, 100)).toBe(6);
    expect(recommend(4, 109, 100)).toBe(4);
    expect(recommend(4, 91, 100)).toBe(4);
    expect(recommend(4, 50, 100)).toBe(2);
  });

  it('scales up at once on a load step, within max', () => {
    expect(run(startAutoscale(spec, 2), [200, 600, 2000]).counts).toEqual([2, 6, 8]);
  });

  it('scales down only after the cooldown, to the highest recommendation of the window', () => {
    const up = run(startAutoscale(spec, 2), [600]).state;
    const down = run(up, Array.from({ length: 16 }, () => 200), 5000).counts;
    // 6 replicas at 200 rps want 2; the window still holds the 6 for 60 s.
    expect(down.slice(0, 11)).toEqual(Array.from({ length: 11 }, () => 6));
    expect(down[down.length - 1]).toBe(2);
  });

  it('never flaps under a steady load with noise', () => {
    const noisy = Array.from({ length: 40 }, (_, i) => 400 * (1 + (i % 2 === 0 ? 0.08 : -0.08)));
    const { counts } = run(startAutoscale(spec, 4), noisy);
    expect(new Set(counts)).toEqual(new Set([4]));
  });

  it('reports a bound held for longer than the cooldown, with the count it wanted', () => {
    let state = startAutoscale(spec, 8);
    let last;
    for (let t = 0; t <= 60_000; t += 5000) {
      last = decide(spec, state, 200, t);
      state = last.state;
      if (t < 60_000) expect(last.limitedFor).toBeUndefined();
    }
    expect(last?.limitedFor).toEqual({ bound: 'max', wanted: 16, sinceMs: 60_000 });
  });
});
