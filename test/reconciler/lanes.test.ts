// The lane scheduler with a fake clock and timers, and passes the test holds
// open: at most one pass per stack at a time, stacks side by side, wakes
// during a pass coalesced into one more, requeues at the earliest asked
// time, a throwing lane retried with backoff while others go on, and stop
// waits for the passes in flight.

import { describe, expect, it } from 'vitest';
import { LaneScheduler, type LaneRun, type Timers } from '../../src/reconciler/lanes.js';

/** Timers that fire only when the test moves the clock. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      pending.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => void pending.delete(id as number),
  };
  const advance = (ms: number): void => {
    now += ms;
    for (const [id, t] of [...pending].sort(([, a], [, b]) => a.at - b.at)) {
      if (t.at > now) continue;
      pending.delete(id);
      t.fn();
    }
  };
  return { timers, advance, pendingCount: () => pending.size };
}

/** Passes that stay open until released, recording what ran when. */
function gatedPasses() {
  const started: string[] = [];
  const open = new Map<string, { reasons: readonly string[]; finish: (run?: LaneRun | Error) => void }[]>();
  const pass = (stack: string, reasons: readonly string[]): Promise<LaneRun> => {
    started.push(stack);
    return new Promise((resolve, reject) => {
      const list = open.get(stack) ?? [];
      list.push({ reasons, finish: (run) => (run instanceof Error ? reject(run) : resolve(run ?? {})) });
      open.set(stack, list);
    });
  };
  const finish = async (stack: string, run?: LaneRun | Error): Promise<readonly string[]> => {
    const next = open.get(stack)?.shift();
    if (next === undefined) throw new Error(`no pass of ${stack} is open`);
    next.finish(run);
    // Let the scheduler react (start the next pass, set timers).
    for (let i = 0; i < 5; i++) await Promise.resolve();
    return next.reasons;
  };
  const running = (stack: string): number => open.get(stack)?.length ?? 0;
  return { pass, finish, started, running };
}

function setup() {
  const t = fakeTimers();
  const g = gatedPasses();
  const errors: string[] = [];
  const lanes = new LaneScheduler({ pass: g.pass, onError: (stack, err) => errors.push(`${stack}: ${err.message}`), timers: t.timers, maxRetryMs: 30_000 });
  return { ...t, ...g, lanes, errors };
}

describe('LaneScheduler', () => {
  it('runs stacks side by side but never two passes of one stack at once', async () => {
    const { lanes, started, running, finish } = setup();
    lanes.wake('web', 'push');
    lanes.wake('db', 'push');
    expect(started).toEqual(['web', 'db']);
    lanes.wake('web', 'event');
    expect(running('web')).toBe(1);
    await finish('web');
    expect(started).toEqual(['web', 'db', 'web']);
    expect(running('web')).toBe(1);
  });

  it('coalesces wakes that arrive during a pass into one more pass carrying all their reasons', async () => {
    const { lanes, started, finish } = setup();
    lanes.wake('web', 'push');
    for (const r of ['die web-1', 'die web-2', 'probe']) lanes.wake('web', r);
    await finish('web');
    expect(await finish('web')).toEqual(['die web-1', 'die web-2', 'probe']);
    expect(started).toEqual(['web', 'web']);
    await lanes.idle();
  });

  it('a slow stack delays no other: another lane finishes many passes while one pass of the slow one is open', async () => {
    const { lanes, started, finish, running } = setup();
    lanes.wake('slow', 'push');
    for (let i = 0; i < 5; i++) {
      lanes.wake('fast', `heal ${i}`);
      await finish('fast');
    }
    expect(started.filter((s) => s === 'fast')).toHaveLength(5);
    expect(running('slow')).toBe(1);
  });

  it('requeues a lane at the time its pass asked for, the earliest of several asks winning, and a wake before it comes first', async () => {
    const { lanes, started, finish, advance } = setup();
    lanes.wake('web', 'push');
    await finish('web', { requeueAt: 5000 });
    lanes.requeue('web', 9000);
    advance(4999);
    expect(started).toHaveLength(1);
    advance(1);
    expect(started).toHaveLength(2);
    expect(await finish('web', { requeueAt: 20_000 })).toEqual(['requeued']);
    lanes.wake('web', 'event');
    expect(started).toHaveLength(3);
    await finish('web');
    // The timer of the earlier ask still stands: a lane that asked to look again is looked at.
    advance(15_000);
    expect(started).toHaveLength(4);
  });

  it('retries a throwing lane with doubling backoff while other lanes keep running', async () => {
    const { lanes, started, finish, advance, errors } = setup();
    lanes.wake('bad', 'push');
    await finish('bad', new Error('engine gone'));
    expect(errors).toEqual(['bad: engine gone']);
    lanes.wake('good', 'push');
    await finish('good');
    advance(999);
    expect(started.filter((s) => s === 'bad')).toHaveLength(1);
    advance(1);
    await finish('bad', new Error('engine gone'));
    advance(1999);
    expect(started.filter((s) => s === 'bad')).toHaveLength(2);
    advance(1);
    expect(started.filter((s) => s === 'bad')).toHaveLength(3);
    await finish('bad');
    expect(lanes.info().find((l) => l.stack === 'bad')).toMatchObject({ failures: 0, passes: 3 });
  });

  it('stop lets the passes in flight finish and starts no new ones', async () => {
    const { lanes, started, finish, pendingCount } = setup();
    lanes.wake('web', 'push');
    await finish('web', { requeueAt: 1000 });
    lanes.wake('web', 'event');
    let stopped = false;
    const stopping = lanes.stop().then(() => (stopped = true));
    lanes.wake('web', 'after stop');
    await Promise.resolve();
    expect(stopped).toBe(false);
    await finish('web');
    await stopping;
    expect(started).toEqual(['web', 'web']);
    expect(pendingCount()).toBe(0);
  });
});
