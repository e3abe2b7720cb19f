import { describe, expect, it } from 'vitest';
import type { UpdateConfig } from '../../src/manifests/model.js';
import { DEFAULT_UPDATE_CONFIG } from '../../src/manifests/normalize.js';
import { afterBatch, effectiveOrder, nextStep, startRollout, type RolloutConfigs, type RolloutState, type SlotOutcome } from '../../src/strategies/rolling.js';

const configs = (update: Partial<UpdateConfig> = {}, rollback: Partial<UpdateConfig> = {}): RolloutConfigs => ({
  update: { ...DEFAULT_UPDATE_CONFIG, ...update },
  rollback: { ...DEFAULT_UPDATE_CONFIG, ...rollback },
});
const ok = (n: number): SlotOutcome => ({ number: n, ok: true, moved: true });
/** A start-first twin that never got ready: the old replica still runs. */
const twinFailed = (n: number): SlotOutcome => ({ number: n, ok: false, moved: false, reason: `twin ${n} not ready` });
/** A new replica that failed after it replaced the old one (stop-first, or within monitor). */
const newFailed = (n: number): SlotOutcome => ({ number: n, ok: false, moved: true, reason: `replica ${n} died` });

/** Runs the machine to its end, answering each batch with `answer`; returns the batches it asked for and the end. */
function drive(state: RolloutState, c: RolloutConfigs, answer: (slot: number, direction: string) => SlotOutcome): { batches: string[]; state: RolloutState } {
  const batches: string[] = [];
  for (let i = 0; i < 20; i++) {
    const step = nextStep(state, c);
    if (step.kind === 'done') return { batches, state };
    batches.push(`${step.direction}:${step.slots.join(',')}${step.delayMs > 0 ? ` after ${step.delayMs} ms` : ''}`);
    state = afterBatch(state, step.slots.map((n) => answer(n, step.direction)), c);
  }
  throw new Error('rollout did not end');
}

describe('rolling update step machine', () => {
  it('updates slot by slot in ascending order, with the delay between batches only', () => {
    const run = drive(startRollout([3, 1, 2]), configs({ delayMs: 500 }), (n) => ok(n));
    expect(run.batches).toEqual(['forward:1', 'forward:2 after 500 ms', 'forward:3 after 500 ms']);
    expect(run.state.end).toBe('converged');
  });

  it('takes parallelism slots per batch, 0 meaning all at once', () => {
    expect(drive(startRollout([1, 2, 3, 4, 5]), configs({ parallelism: 2 }), ok).batches).toEqual(['forward:1,2', 'forward:3,4', 'forward:5']);
    expect(drive(startRollout([1, 2, 3]), configs({ parallelism: 0 }), ok).batches).toEqual(['forward:1,2,3']);
  });

  it('rolls back every slot that runs the new spec, with rollback_config, when a batch fails', () => {
    const run = drive(startRollout([1, 2, 3]), configs({}, { parallelism: 2 }), (n, dir) => (dir === 'forward' && n === 2 ? newFailed(n) : ok(n)));
    expect(run.batches).toEqual(['forward:1', 'forward:2', 'back:1,2']);
    expect(run.state).toMatchObject({ end: 'rolled-back', reason: 'replica 2 died' });
  });

  it('ends rolled back at once when the first twin never got ready: the old replicas never stopped serving', () => {
    const run = drive(startRollout([1, 2, 3]), configs(), (n) => twinFailed(n));
    expect(run.batches).toEqual(['forward:1']);
    expect(run.state).toMatchObject({ end: 'rolled-back', reason: 'twin 1 not ready', onNewSpec: [] });
  });

  it('pauses where it failed with failure_action pause, and carries on with continue', () => {
    const failSecond = (n: number): SlotOutcome => (n === 2 ? newFailed(n) : ok(n));
    const paused = drive(startRollout([1, 2, 3]), configs({ failureAction: 'pause' }), failSecond);
    expect(paused.batches).toEqual(['forward:1', 'forward:2']);
    expect(paused.state.end).toBe('paused');
    const continued = drive(startRollout([1, 2, 3]), configs({ failureAction: 'continue' }), failSecond);
    expect(continued.batches).toEqual(['forward:1', 'forward:2', 'forward:3']);
    expect(continued.state).toMatchObject({ end: 'converged', failures: 1 });
  });

  it('tolerates failures up to max_failure_ratio', () => {
    const tolerant = configs({ maxFailureRatio: 0.5 });
    const one = drive(startRollout([1, 2, 3, 4]), tolerant, (n) => (n === 1 ? newFailed(n) : ok(n)));
    expect(one.state.end).toBe('converged');
    const three = drive(startRollout([1, 2, 3, 4]), tolerant, (n, dir) => (dir === 'forward' && n <= 3 ? newFailed(n) : ok(n)));
    // 1/4 and 2/4 are within 0.5; the third failure (3/4) turns it around.
    expect(three.batches).toEqual(['forward:1', 'forward:2', 'forward:3', 'back:1', 'back:2', 'back:3']);
    expect(three.state.end).toBe('rolled-back');
  });

  it('gives up when the way back fails too', () => {
    const run = drive(startRollout([1, 2]), configs(), (n, dir) => (dir === 'forward' ? (n === 2 ? newFailed(n) : ok(n)) : newFailed(n)));
    expect(run.batches).toEqual(['forward:1', 'forward:2', 'back:1']);
    expect(run.state.end).toBe('rollback-failed');
  });

  it('resumes a rollback as a rollback: a failure then is final', () => {
    const run = drive(startRollout([2, 1], 'back'), configs(), (n) => (n === 2 ? newFailed(n) : ok(n)));
    expect(run.batches).toEqual(['back:1', 'back:2']);
    expect(run.state.end).toBe('rollback-failed');
    expect(startRollout([]).end).toBe('converged');
  });

  it('updates stop-first when the container itself binds a fixed host port', () => {
    expect(effectiveOrder({ ...DEFAULT_UPDATE_CONFIG, order: 'start-first' }, true)).toBe('stop-first');
    expect(effectiveOrder({ ...DEFAULT_UPDATE_CONFIG, order: 'start-first' }, false)).toBe('start-first');
  });
});
