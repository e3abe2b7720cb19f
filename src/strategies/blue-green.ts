// A blue-green release of one service as a step machine (Argo Rollouts'
// blueGreen): the new version starts as a full second set beside the live
// one — each slot's twin, labelled with the other colour — and takes no
// request until every replica of it is ready and has passed `pre_switch`.
// Then one routing table moves all traffic at once; the old set is drained
// but kept running for `scale_down_delay`, so a new replica failing within
// `monitor` (or the delay) switches straight back. Afterwards the old set is
// removed and the twins take the replicas' names.
//
// Pure, like rolling.ts; the record is persisted after every step, and
// `heldOut` tells the routing table which set is out of rotation, so a
// restarted operator keeps serving the right colour.

import type { BlueGreenSpec } from '../manifests/model.js';
import { seconds } from './analysis.js';
import type { RecordBase, ReplicaView, RolloutAction, RolloutProgress, SlotLabel, SlotView, SlotViews } from './step.js';

export type BlueGreenPhase = 'starting' | 'awaiting' | 'checking' | 'switched' | 'cleanup';

export interface BlueGreenRecord extends RecordBase {
  strategy: 'blue-green';
  slots: readonly number[];
  /** The new set's colour: the other one than the live set's. */
  color: 'blue' | 'green';
  spec: BlueGreenSpec;
  progressDeadlineMs: number;
  phase: BlueGreenPhase;
  phaseSince: number;
  startedAt: number;
  /** When all traffic moved to the new set; undefined before (and after a switch back). */
  switchedAt: number | undefined;
  /** Why it failed, in words; set once it does. */
  failure: string | undefined;
  /** Whether the failure came after the switch (the old set was switched back to). */
  switchedBack: boolean;
}

export type BlueGreenEnd = { kind: 'switched' } | { kind: 'aborted'; reason: string; switchedBack: boolean };

export interface BlueGreenStepResult {
  record: BlueGreenRecord;
  actions: RolloutAction[];
  wakeAt: number | undefined;
  end: BlueGreenEnd | undefined;
}

const AWAIT_POLL_MS = 250;

/** The colour the new set gets: the other one than the live set's (the first blue-green release of a service goes green). */
export function nextColor(live: SlotLabel | undefined): 'blue' | 'green' {
  return live === 'green' ? 'blue' : 'green';
}

export function beginBlueGreen(opts: {
  id: string; stack: string; service: string; revision: string; targetHash: string; targetDigest?: string | undefined; slots: readonly number[]; color: 'blue' | 'green';
  spec: BlueGreenSpec; progressDeadlineMs: number; previous: BlueGreenRecord['previous']; now: number;
}): BlueGreenRecord {
  return {
    strategy: 'blue-green', id: opts.id, stack: opts.stack, service: opts.service, revision: opts.revision, targetHash: opts.targetHash, targetDigest: opts.targetDigest,
    previous: opts.previous, slots: [...opts.slots].sort((a, b) => a - b), color: opts.color, spec: opts.spec, progressDeadlineMs: opts.progressDeadlineMs,
    phase: 'starting', phaseSince: opts.now, startedAt: opts.now, switchedAt: undefined, failure: undefined, switchedBack: false,
  };
}

export function stepBlueGreen(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  switch (record.phase) {
    case 'starting': return starting(record, view, now);
    case 'awaiting': return awaiting(record, view, now);
    case 'checking': return checking(record, view, now);
    case 'switched': return switched(record, view, now);
    case 'cleanup': return cleanup(record, view);
  }
}

/** A slot's action failed (a create, a pre_switch check): the release fails before the switch, the live set untouched. */
export function failBlueGreenSlot(record: BlueGreenRecord, slot: number, reason: string): BlueGreenRecord {
  if (record.failure !== undefined || record.phase === 'switched') return record;
  return { ...record, failure: slot === 0 ? reason : `slot ${slot}: ${reason}` };
}

/** Ids the routing table keeps out of rotation: the new set until the switch, the old set after it. */
export function blueGreenHeldOut(record: BlueGreenRecord, view: SlotViews): string[] {
  const live = record.phase === 'switched' && !record.switchedBack;
  return record.slots.flatMap((n) => {
    const v = view.get(n);
    const twin = v?.twin?.onTarget === true ? v.twin : undefined;
    const old = v?.replica !== undefined && !v.replica.onTarget ? v.replica : undefined;
    if (live) return old === undefined || twin === undefined ? [] : [old.id];
    return twin === undefined ? [] : [twin.id];
  });
}

export function blueGreenProgress(record: BlueGreenRecord, wakeAt: number | undefined): RolloutProgress {
  return {
    id: record.id, stack: record.stack, service: record.service, strategy: 'blue-green', revision: record.revision, direction: 'forward',
    batch: 1, batches: 1, phase: record.phase === 'switched' ? `switched to ${record.color}` : record.phase, since: record.phaseSince, nextStepAt: wakeAt,
  };
}

/** `blue-green web/api: switch when 3 replicas are ready, keep the old set 30 s` */
export function describeBlueGreen(stack: string, service: string, replicas: number, spec: BlueGreenSpec): string {
  return `blue-green ${stack}/${service}: ${replicas} new replica${replicas === 1 ? '' : 's'} beside the live set${spec.preSwitch === undefined ? '' : ', pre_switch check'}, switch at once, monitor ${seconds(spec.monitorMs)}, old set kept ${seconds(spec.scaleDownDelayMs)}`;
}

function starting(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  const actions: RolloutAction[] = [];
  for (const n of record.slots) {
    const v = view.get(n);
    if (v?.replica?.onTarget === true && v.twin === undefined) continue;
    const twin = v?.twin;
    if (twin !== undefined && twin.onTarget) {
      if (twin.created) actions.push({ kind: 'start', slot: n, id: twin.id });
      continue;
    }
    if (twin !== undefined) actions.push({ kind: 'drain', slot: n, id: twin.id }, { kind: 'remove', slot: n, id: twin.id });
    actions.push({ kind: 'create', slot: n, as: 'twin', label: record.color });
  }
  return { record: { ...record, phase: 'awaiting', phaseSince: now }, actions, wakeAt: now + AWAIT_POLL_MS, end: undefined };
}

function awaiting(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  if (record.failure !== undefined) return toCleanup(record, view, now);
  let waiting = false;
  for (const n of record.slots) {
    const v = view.get(n);
    const fresh = newReplica(v);
    if (fresh === undefined) return toCleanup({ ...record, failure: `the new replica of slot ${n} is gone` }, view, now);
    if (fresh.readiness.kind === 'failed') return toCleanup({ ...record, failure: fresh.readiness.reason }, view, now);
    if (fresh.readiness.kind === 'waiting') {
      if (now >= record.phaseSince + record.progressDeadlineMs) {
        return toCleanup({ ...record, failure: `${fresh.readiness.why} after ${seconds(record.progressDeadlineMs)} (progress deadline)` }, view, now);
      }
      waiting = true;
    }
  }
  if (waiting) return { record, actions: [], wakeAt: Math.min(now + AWAIT_POLL_MS, record.phaseSince + record.progressDeadlineMs), end: undefined };
  if (record.spec.preSwitch !== undefined) {
    const actions: RolloutAction[] = record.slots.flatMap((n) => {
      const fresh = newReplica(view.get(n));
      return fresh === undefined ? [] : [{ kind: 'check' as const, slot: n, id: fresh.id }];
    });
    return { record: { ...record, phase: 'checking', phaseSince: now }, actions, wakeAt: now, end: undefined };
  }
  return switchOver(record, view, now);
}

function checking(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  if (record.failure !== undefined) return toCleanup({ ...record, failure: `pre_switch: ${record.failure}` }, view, now);
  return switchOver(record, view, now);
}

/** All traffic to the new set in one table; the old set drained but kept. */
function switchOver(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  const admit: { slot: number; id: string }[] = [];
  const drain: string[] = [];
  for (const n of record.slots) {
    const v = view.get(n);
    const fresh = newReplica(v);
    if (fresh !== undefined && fresh !== v?.replica) admit.push({ slot: n, id: fresh.id });
    if (v?.replica !== undefined && !v.replica.onTarget) drain.push(v.replica.id);
  }
  const wait = Math.max(record.spec.monitorMs, record.spec.scaleDownDelayMs);
  return { record: { ...record, phase: 'switched', phaseSince: now, switchedAt: now }, actions: [{ kind: 'switch', slot: 0, admit, drain }], wakeAt: now + wait, end: undefined };
}

function switched(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  const since = record.switchedAt ?? record.phaseSince;
  const window = record.spec.monitorMs;
  for (const n of record.slots) {
    const v = view.get(n);
    const fresh = newReplica(v);
    const failed = fresh === undefined ? `the new replica of slot ${n} is gone` : fresh.readiness.kind === 'failed' ? fresh.readiness.reason : undefined;
    if (failed === undefined) continue;
    // The old set still runs: switch straight back.
    const within = now - since <= window ? `within the monitor window (${seconds(window)})` : 'before the old set was scaled down';
    return switchBack(record, view, now, `${failed} ${within}`);
  }
  const until = since + Math.max(record.spec.monitorMs, record.spec.scaleDownDelayMs);
  if (now < until) return { record, actions: [], wakeAt: until, end: undefined };
  // The old set goes; each twin takes its replica's name.
  const actions: RolloutAction[] = [];
  for (const n of record.slots) {
    const v = view.get(n);
    const old = v?.replica !== undefined && !v.replica.onTarget ? v.replica : undefined;
    if (old !== undefined) actions.push({ kind: 'remove', slot: n, id: old.id });
    if (v?.twin?.onTarget === true) actions.push({ kind: 'promote', slot: n, id: v.twin.id });
  }
  return { record, actions, wakeAt: undefined, end: { kind: 'switched' } };
}

function switchBack(record: BlueGreenRecord, view: SlotViews, now: number, reason: string): BlueGreenStepResult {
  const admit: { slot: number; id: string }[] = [];
  const drain: string[] = [];
  for (const n of record.slots) {
    const v = view.get(n);
    if (v?.replica !== undefined && !v.replica.onTarget) admit.push({ slot: n, id: v.replica.id });
    if (v?.twin !== undefined) drain.push(v.twin.id);
  }
  // The new set is removed at the next step, once this table no longer names it.
  const back: BlueGreenRecord = { ...record, failure: reason, switchedBack: true, phase: 'cleanup', phaseSince: now };
  return { record: back, actions: [{ kind: 'switch', slot: 0, admit, drain }], wakeAt: now, end: undefined };
}

function toCleanup(record: BlueGreenRecord, view: SlotViews, now: number): BlueGreenStepResult {
  return cleanup({ ...record, phase: 'cleanup', phaseSince: now }, view);
}

/** The new set goes (it never took a request); the live set was never touched. */
function cleanup(record: BlueGreenRecord, view: SlotViews): BlueGreenStepResult {
  const actions: RolloutAction[] = record.slots.flatMap((n): RolloutAction[] => {
    const twin = view.get(n)?.twin;
    return twin === undefined ? [] : [{ kind: 'drain', slot: n, id: twin.id }, { kind: 'remove', slot: n, id: twin.id }];
  });
  return { record, actions, wakeAt: undefined, end: { kind: 'aborted', reason: record.failure ?? 'failed', switchedBack: record.switchedBack } };
}

/** The replica of the new set in a slot: its twin, or the slot's own once it runs the target. */
function newReplica(v: SlotView | undefined): ReplicaView | undefined {
  if (v?.twin?.onTarget === true) return v.twin;
  if (v?.replica?.onTarget === true) return v.replica;
  return undefined;
}
