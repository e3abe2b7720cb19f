// The blue-green step machine on an injected clock, and the router weights a
// canary split gives.

import { describe, expect, it } from 'vitest';
import { splitWeights } from '../../src/router/routes.js';
import { beginBlueGreen, blueGreenHeldOut, nextColor, stepBlueGreen, type BlueGreenRecord } from '../../src/strategies/blue-green.js';
import type { ReplicaView, RolloutAction, SlotView } from '../../src/strategies/step.js';

const ready: ReplicaView['readiness'] = { kind: 'ready' };
const spec = { scaleDownDelayMs: 30_000, monitorMs: 10_000, preSwitch: undefined };

function views(twin: (n: number) => ReplicaView | undefined): Map<number, SlotView> {
  return new Map([1, 2].map((n) => [n, { number: n, replica: { id: `old${n}`, onTarget: false, created: false, readiness: ready }, twin: twin(n) }]));
}
const twinReady = (n: number): ReplicaView => ({ id: `new${n}`, onTarget: true, created: false, readiness: ready });

function begin(): BlueGreenRecord {
  return beginBlueGreen({ id: 'r', stack: 'web', service: 'api', revision: 'abc', targetHash: 'h', slots: [2, 1], color: nextColor('stable'), spec, progressDeadlineMs: 60_000, previous: undefined, now: 0 });
}

const kinds = (actions: readonly RolloutAction[]): string[] => actions.map((a) => `${a.kind}${'id' in a ? ` ${a.id}` : ''}${a.kind === 'create' ? ` ${a.slot} ${a.label ?? ''}` : ''}`);

describe('blue-green step machine', () => {
  it('starts the whole new set labelled with the other colour, keeps it out of rotation until every replica is ready, then switches in one table', () => {
    const started = stepBlueGreen(begin(), views(() => undefined), 0);
    expect(kinds(started.actions)).toEqual(['create 1 green', 'create 2 green']);
    const waiting = stepBlueGreen(started.record, views((n) => (n === 1 ? twinReady(1) : { id: 'new2', onTarget: true, created: false, readiness: { kind: 'waiting', why: 'starting' } })), 100);
    expect(waiting.actions).toEqual([]);
    expect(blueGreenHeldOut(waiting.record, views(twinReady))).toEqual(['new1', 'new2']);
    const switched = stepBlueGreen(waiting.record, views(twinReady), 200);
    expect(switched.actions).toEqual([{ kind: 'switch', slot: 0, admit: [{ slot: 1, id: 'new1' }, { slot: 2, id: 'new2' }], drain: ['old1', 'old2'] }]);
    expect(blueGreenHeldOut(switched.record, views(twinReady))).toEqual(['old1', 'old2']);
    // The old set is kept for scale_down_delay: nothing happens before it ends.
    expect(stepBlueGreen(switched.record, views(twinReady), 20_000).actions).toEqual([]);
    const done = stepBlueGreen(switched.record, views(twinReady), 30_200);
    expect([kinds(done.actions), done.end]).toEqual([['remove old1', 'promote new1', 'remove old2', 'promote new2'], { kind: 'switched' }]);
  });

  it('switches straight back when a new replica fails within monitor, then removes the new set', () => {
    const record = stepBlueGreen(stepBlueGreen(begin(), views(() => undefined), 0).record, views(twinReady), 100).record;
    const failing = views((n) => (n === 2 ? { ...twinReady(2), readiness: { kind: 'failed', reason: 'new2 failed its probe' } } : twinReady(n)));
    const back = stepBlueGreen(record, failing, 5_000);
    expect(back.actions).toEqual([{ kind: 'switch', slot: 0, admit: [{ slot: 1, id: 'old1' }, { slot: 2, id: 'old2' }], drain: ['new1', 'new2'] }]);
    expect(blueGreenHeldOut(back.record, failing)).toEqual(['new1', 'new2']);
    const cleaned = stepBlueGreen(back.record, failing, 5_100);
    expect(kinds(cleaned.actions)).toEqual(['drain new1', 'remove new1', 'drain new2', 'remove new2']);
    expect(cleaned.end).toEqual({ kind: 'aborted', reason: 'new2 failed its probe within the monitor window (10 s)', switchedBack: true });
  });

  it('never switches when the new set does not get ready in time: the live set never stopped serving', () => {
    const started = stepBlueGreen(begin(), views(() => undefined), 0);
    const slow = views((n) => ({ id: `new${n}`, onTarget: true, created: false, readiness: { kind: 'waiting', why: `new${n} is starting` } }));
    const late = stepBlueGreen(started.record, slow, 61_000);
    expect(late.actions.some((a) => a.kind === 'switch')).toBe(false);
    expect(late.end).toMatchObject({ kind: 'aborted', switchedBack: false, reason: 'new1 is starting after 1 min (progress deadline)' });
  });

  it('alternates colours release after release', () => {
    expect([nextColor(undefined), nextColor('green'), nextColor('blue')]).toEqual(['green', 'blue', 'green']);
  });
});

describe('canary split weights', () => {
  it('gives the canary version its share over all replicas, each side spread evenly, within the table limits', () => {
    expect(splitWeights(['a', 'a', 'a', 'b'], { version: 'b', weight: 10 })).toEqual([3, 3, 3, 1]);
    expect(splitWeights(['a', 'a', 'b', 'b'], { version: 'b', weight: 50 })).toEqual([1, 1, 1, 1]);
    expect(splitWeights(['a', 'b'], { version: 'b', weight: 100 })).toEqual([0, 1]);
    expect(splitWeights(['a', 'a', 'a'], { version: 'b', weight: 10 })).toEqual([1, 1, 1]);
    const w = splitWeights(Array.from({ length: 7 }, () => 'a').concat(['b']), { version: 'b', weight: 1 });
    const share = (w[7] ?? 0) / w.reduce((x, y) => x + y, 0);
    expect(share).toBeCloseTo(0.01, 3);
  });
});
