// The canary step machine on an injected clock: a small engine model answers
// its actions (a created canary becomes ready at the next look), the
// router's counters are numbers the test sets.

import { describe, expect, it } from 'vitest';
import type { AnalysisSpec, CanaryStep } from '../../src/manifests/model.js';
import { DEFAULT_UPDATE_CONFIG } from '../../src/manifests/normalize.js';
import { NO_TRAFFIC, p95, type VersionTotals } from '../../src/strategies/analysis.js';
import { analysisDue, beginCanary, canarySplit, stepCanary, type CanaryEnd, type CanaryRecord, type RolloutCommand } from '../../src/strategies/canary.js';
import { heldOut } from '../../src/strategies/record.js';
import type { ReplicaView, RolloutAction, SlotView } from '../../src/strategies/step.js';

const TARGET = 'new'.padEnd(64, '0');
const ready: ReplicaView['readiness'] = { kind: 'ready' };

/** Stable replicas 1..n on the old spec, canaries as the machine makes them; a canary is ready from the step after its create (unless `failing`). */
class Model {
  stable = new Map<number, ReplicaView>();
  twins = new Map<number, ReplicaView>();
  canaries = new Map<number, ReplicaView>();
  split: { version: string; weight: number } | undefined;
  failing = new Set<number>();
  seq = 0;
  constructor(n: number) {
    for (let i = 1; i <= n; i++) this.stable.set(i, { id: `s${i}`, onTarget: false, created: false, readiness: ready });
  }
  view(): Map<number, SlotView> {
    const out = new Map<number, SlotView>();
    for (let n = 1; n <= 8; n++) out.set(n, { number: n, replica: this.stable.get(n), twin: this.twins.get(n), canary: this.canaries.get(n) });
    return out;
  }
  apply(actions: readonly RolloutAction[]): void {
    for (const a of actions) {
      if (a.kind === 'create') {
        const r: ReplicaView = { id: `${a.as}${a.slot}.${++this.seq}`, onTarget: true, created: false, readiness: { kind: 'waiting', why: 'starting' } };
        (a.as === 'canary' ? this.canaries : a.as === 'twin' ? this.twins : this.stable).set(a.slot, r);
      } else if (a.kind === 'remove') {
        for (const m of [this.canaries, this.twins, this.stable]) for (const [n, r] of m) if (r.id === a.id) m.delete(n);
      } else if (a.kind === 'promote') {
        const t = this.twins.get(a.slot);
        this.twins.delete(a.slot);
        if (t !== undefined) this.stable.set(a.slot, t);
      } else if (a.kind === 'split') this.split = a.split;
    }
  }
  /** What became ready since the last look. */
  settle(): void {
    for (const m of [this.canaries, this.twins, this.stable]) for (const [n, r] of m) if (r.readiness.kind === 'waiting') m.set(n, { ...r, readiness: m === this.canaries && this.failing.has(n) ? { kind: 'failed', reason: `canary ${n} exited` } : ready });
  }
}

const steps: CanaryStep[] = [{ weight: 10, pause: 30_000 }, { weight: 50, pause: 'manual' }, { weight: 100, pause: undefined }];
const analysis: AnalysisSpec = { intervalMs: 5_000, maxErrorRate: 0.05, maxP95Ms: undefined, minRequests: 20, prometheus: undefined };
const totals = (requests: number, errors: number): VersionTotals => ({ requests, errors, boundsMs: [10, 100], buckets: [requests, requests, requests] });

function start(n: number, opts: { analysis?: AnalysisSpec; steps?: CanaryStep[] } = {}): CanaryRecord {
  return beginCanary({
    id: 'r1', stack: 'web', service: 'api', revision: 'abc1234', targetHash: TARGET, slots: Array.from({ length: n }, (_, i) => i + 1),
    steps: opts.steps ?? steps, analysis: opts.analysis, order: 'start-first', configs: { update: DEFAULT_UPDATE_CONFIG, rollback: DEFAULT_UPDATE_CONFIG },
    progressDeadlineMs: 60_000, previous: undefined, now: 0,
  });
}

/** Steps the machine at `now` against the model (JSON round trip: the record is what a restarted operator reads back). */
function step(record: CanaryRecord, m: Model, now: number, extra: { totals?: VersionTotals; command?: RolloutCommand } = {}) {
  const r = stepCanary(JSON.parse(JSON.stringify(record)) as CanaryRecord, { view: m.view(), totals: extra.totals, prometheus: undefined, command: extra.command, now });
  m.apply(r.actions);
  m.settle();
  return r;
}

describe('canary step machine', () => {
  it('walks 10% → 50% (manual) → 100%: canaries sized to the weight, the pause kept on the clock, promote ends the manual one, the last step replaces the stable replicas and retires the canaries', () => {
    const m = new Model(4);
    let r = step(start(4), m, 0);
    expect([m.canaries.size, m.split]).toEqual([1, { version: TARGET, weight: 10 }]);
    r = step(r.record, m, 100);
    expect([r.record.phase, r.record.weight]).toEqual(['paused', 10]);
    expect(step(r.record, m, 29_000).record).toMatchObject({ phase: 'paused', step: 0 });
    r = step(r.record, m, 30_100);
    expect(r.record).toMatchObject({ phase: 'scaling', step: 1 });
    r = step(r.record, m, 30_200);
    r = step(r.record, m, 30_300);
    expect([r.record.phase, r.record.weight, m.canaries.size, m.split?.weight]).toEqual(['paused', 50, 2, 50]);
    // Manual: nothing moves on the clock alone.
    expect(step(r.record, m, 10_000_000).record).toMatchObject({ phase: 'paused', step: 1 });
    r = step(r.record, m, 40_000, { command: 'promote' });
    expect(r.command).toEqual({ done: true, message: 'promoted past step 2 (50%)' });
    let end: CanaryEnd | undefined;
    for (let t = 40_100; end === undefined && t < 200_000; t += 100) {
      r = step(r.record, m, t);
      end = r.end;
    }
    expect(end).toEqual({ kind: 'promoted' });
    expect([[...m.stable.values()].every((s) => s.onTarget), m.canaries.size, m.twins.size, m.split]).toEqual([true, 0, 0, undefined]);
  });

  it('aborts on a failing evaluation with the numbers: the canaries leave the table (drained) and the split goes, the stable replicas never moved', () => {
    const m = new Model(3);
    let r = step(start(3, { analysis }), m, 0);
    r = step(r.record, m, 100);
    expect(analysisDue(r.record, 100)).toBe(true);
    r = step(r.record, m, 100, { totals: totals(0, 0) });
    expect(analysisDue(r.record, 2_000)).toBe(false);
    r = step(r.record, m, 5_100, { totals: totals(40, 1) });
    expect(r.record).toMatchObject({ passed: 1, last: { ok: true, requests: 40, errors: 1 } });
    const before = r.record;
    const aborted = stepCanary(before, { view: m.view(), totals: totals(80, 9), prometheus: undefined, command: undefined, now: 10_100 });
    expect(aborted.end).toMatchObject({ kind: 'aborted', reason: 'canary analysis failed at 10%: error rate 20 % > 5 % (8 of 40 requests)' });
    expect(aborted.actions.map((a) => a.kind)).toEqual(['drain', 'remove', 'split']);
    expect(aborted.actions[2]).toEqual({ kind: 'split', slot: 0, split: undefined });
    expect([...m.stable.values()].every((s) => !s.onTarget)).toBe(true);
  });

  it('extends a pause with too few requests up to the progress deadline, then fails the step saying how many came', () => {
    const m = new Model(2);
    let r = step(start(2, { analysis }), m, 0);
    r = step(r.record, m, 100);
    r = step(r.record, m, 100, { totals: totals(0, 0) });
    r = step(r.record, m, 30_100, { totals: totals(5, 0) });
    expect([r.record.phase, r.end, r.record.window?.pending]).toEqual(['paused', undefined, 5]);
    r = step(r.record, m, 60_200, { totals: totals(12, 0) });
    expect(r.end).toMatchObject({ kind: 'aborted', reason: 'canary analysis at 10%: 12 requests within 1 min, fewer than min_requests 20' });
  });

  it('starts a new window when the counters went down (a restarted router) instead of judging a negative one', () => {
    const m = new Model(2);
    let r = step(start(2, { analysis }), m, 0);
    r = step(r.record, m, 100);
    r = step(r.record, m, 100, { totals: totals(500, 0) });
    r = step(r.record, m, 5_100, { totals: totals(10, 0) });
    expect([r.end, r.record.window?.start?.requests, r.record.evaluations]).toEqual([undefined, 10, 0]);
  });

  it('aborts on `capstan abort` and when a canary fails, and refuses promote before the step pauses', () => {
    const m = new Model(2);
    let r = step(start(2), m, 0);
    const early = stepCanary(r.record, { view: m.view(), totals: undefined, prometheus: undefined, command: 'promote', now: 10 });
    expect(early.command).toEqual({ done: false, message: 'cannot promote web/api now: its step is not paused yet' });
    r = step(r.record, m, 100);
    const aborted = stepCanary(r.record, { view: m.view(), totals: undefined, prometheus: undefined, command: 'abort', now: 200 });
    expect([aborted.end, aborted.command]).toEqual([{ kind: 'aborted', reason: 'aborted by `capstan abort`', evaluation: undefined }, { done: true, message: 'aborted' }]);

    const f = new Model(2);
    f.failing.add(1);
    let g = step(start(2), f, 0);
    g = step(g.record, f, 100);
    expect(g.end).toMatchObject({ kind: 'aborted', reason: 'canary 1 failed: canary 1 exited' });
  });

  it('resumes the same step after a restart: the pause ends when it would have, the split is the record’s', () => {
    const m = new Model(2);
    let r = step(start(2), m, 0);
    r = step(r.record, m, 100);
    const saved = JSON.stringify(r.record);
    const resumed = JSON.parse(saved) as CanaryRecord;
    expect(canarySplit(resumed)).toEqual({ version: TARGET, weight: 10 });
    expect(step(resumed, m, 20_000).record).toMatchObject({ phase: 'paused', step: 0 });
    expect(step(resumed, m, 30_200).record).toMatchObject({ phase: 'scaling', step: 1 });
    expect(heldOut({ ...resumed, phase: 'aborting' }, [{ id: 'c', name: 'web-api-1-canary', service: 'api', number: 1, specHash: TARGET }])).toEqual(['c']);
  });
});

describe('analysis numbers', () => {
  it('interpolates p95 inside its bucket as histogram_quantile does', () => {
    expect(p95({ requests: 100, errors: 0, boundsMs: [10, 100, 1000], buckets: [50, 90, 100, 100] })).toBe(550);
    expect(p95(NO_TRAFFIC)).toBeUndefined();
  });
});
