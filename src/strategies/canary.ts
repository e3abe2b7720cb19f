// A canary release of one service as a step machine (Argo Rollouts' canary
// with traffic routing, on Capstan's router). For each step the canary
// replicas are sized to its weight (at least one), the router sends that
// share of the service's requests to the new version, and the step pauses —
// for a duration, until `capstan promote`, or not at all — while the analysis
// judges the router's counters of the new version every interval. A failing
// evaluation, a failing canary replica or `capstan abort` aborts: the split
// goes, the canaries are drained and removed, the stable replicas never
// stopped serving. The last step (weight 100) sends every request to the new
// version, then replaces the stable replicas through a rolling update (the
// nested record) and retires the canaries.
//
// Pure, like rolling.ts: the driver shows it what runs (slot views, with
// each canary under its number), the counters it read when `analysisDue`
// said so, and an operator's command; it answers with the next record, the
// actions of this step and when to look again. The record is persisted after
// every step, so a restarted operator resumes the same step, its pause and
// its analysis window.

import type { AnalysisSpec, CanaryStep, UpdateConfig } from '../manifests/model.js';
import { delta, describeAnalysis, evaluate, seconds, type VersionTotals } from './analysis.js';
import { beginRolling, failSlot as failRollingSlot, stepRolling, type RollingEnd, type RollingRecord, type RolloutConfigs } from './rolling.js';
import type { Evaluation, RecordBase, RolloutAction, RolloutProgress, SlotViews } from './step.js';

export type CanaryPhase = 'scaling' | 'paused' | 'promoting' | 'finishing' | 'aborting';

/** An operator's word on a paused step (`capstan promote|abort`). */
export type RolloutCommand = 'promote' | 'abort';

export interface CanaryRecord extends RecordBase {
  strategy: 'canary';
  /** The stable slots the last step replaces. */
  slots: readonly number[];
  steps: readonly CanaryStep[];
  analysis: AnalysisSpec | undefined;
  order: UpdateConfig['order'];
  configs: RolloutConfigs;
  progressDeadlineMs: number;
  /** Index into steps. */
  step: number;
  phase: CanaryPhase;
  phaseSince: number;
  startedAt: number;
  /** The share the router gives the new version now (0 before the first step's canaries exist). */
  weight: number;
  /** The analysis window of this step: its counters at the start, and when it is judged next. */
  window: { start: VersionTotals | undefined; nextAt: number; pending: number } | undefined;
  evaluations: number;
  /** Evaluations passed during the current step. */
  passed: number;
  last: Evaluation | undefined;
  promotion: RollingRecord | undefined;
  /** Why it aborts (with the numbers), once it does. */
  abort: { reason: string; promotion: RollingEnd | undefined } | undefined;
}

export type CanaryEnd =
  | { kind: 'promoted' }
  | { kind: 'aborted'; reason: string; evaluation: Evaluation | undefined }
  /** The last step's rolling update failed; with `turned-back` the replicas it moved go back in a rollout of their own. */
  | { kind: 'promotion-failed'; reason: string; promotion: RollingEnd };

export interface CanaryInput {
  view: SlotViews;
  /** The new version's counters, read because `analysisDue` said so (undefined otherwise, or when the router could not be asked). */
  totals: VersionTotals | undefined;
  /** The Prometheus query's value, or why it could not be read (only with `analysis.prometheus`, read with the totals). */
  prometheus: number | string | undefined;
  command: RolloutCommand | undefined;
  now: number;
}

export interface CanaryStepResult {
  record: CanaryRecord;
  actions: RolloutAction[];
  wakeAt: number | undefined;
  end: CanaryEnd | undefined;
  /** The command was acted on (or refused, with why). */
  command: { done: boolean; message: string } | undefined;
}

/** How often a starting canary is looked at when no event says more. */
const AWAIT_POLL_MS = 500;

export function beginCanary(opts: {
  id: string; stack: string; service: string; revision: string; targetHash: string; targetDigest?: string | undefined; slots: readonly number[];
  steps: readonly CanaryStep[]; analysis: AnalysisSpec | undefined; order: UpdateConfig['order']; configs: RolloutConfigs;
  progressDeadlineMs: number; previous: CanaryRecord['previous']; now: number;
}): CanaryRecord {
  return {
    strategy: 'canary', id: opts.id, stack: opts.stack, service: opts.service, revision: opts.revision, targetHash: opts.targetHash, targetDigest: opts.targetDigest,
    previous: opts.previous, slots: [...opts.slots].sort((a, b) => a - b), steps: opts.steps, analysis: opts.analysis, order: opts.order,
    configs: opts.configs, progressDeadlineMs: opts.progressDeadlineMs, step: 0, phase: 'scaling', phaseSince: opts.now, startedAt: opts.now,
    weight: 0, window: undefined, evaluations: 0, passed: 0, last: undefined, promotion: undefined, abort: undefined,
  };
}

/** Canary replicas for a step: the step's share of the stable count, at least one; all of them at 100 %. */
export function canaryCount(weight: number, stable: number): number {
  return Math.max(1, Math.ceil((stable * weight) / 100));
}

/** The most canaries any step runs: the canary numbers the driver shows. */
export function canaryNumbers(record: CanaryRecord): number[] {
  const most = Math.max(...record.steps.map((s) => canaryCount(s.weight, record.slots.length)), 1);
  return Array.from({ length: most }, (_, i) => i + 1);
}

/** The driver reads the new version's counters for this step (and the Prometheus query) only when this says so. */
export function analysisDue(record: CanaryRecord, now: number): boolean {
  if (record.phase !== 'paused' || record.analysis === undefined) return false;
  return record.window === undefined || record.window.start === undefined || now >= record.window.nextAt;
}

/** The router's split for this record: undefined before the first step and once it ends. */
export function canarySplit(record: CanaryRecord): { version: string; weight: number } | undefined {
  if (record.weight === 0 || record.phase === 'aborting') return undefined;
  return { version: record.targetHash, weight: record.weight };
}

export function stepCanary(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  const { now } = input;
  const r = ((): CanaryStepResult => {
    switch (record.phase) {
      case 'scaling': return scaling(record, input);
      case 'paused': return paused(record, input);
      case 'promoting': return promoting(record, input);
      case 'finishing': return finishing(record, input);
      case 'aborting': return aborting(record, input);
    }
  })();
  if (input.command !== undefined && r.command === undefined) {
    const what = record.phase === 'promoting' || record.phase === 'finishing' ? 'it is being promoted' : record.phase === 'aborting' ? 'it is being aborted' : 'its step is not paused yet';
    return { ...r, command: { done: false, message: `cannot ${input.command} ${record.stack}/${record.service} now: ${what}` }, wakeAt: r.wakeAt ?? now };
  }
  return r;
}

/** A slot the driver could not act on: during the promotion, the nested rolling update's slot fails; otherwise the canary aborts. */
export function failCanarySlot(record: CanaryRecord, slot: number, reason: string, moved: boolean): CanaryRecord {
  if (record.phase === 'promoting' && record.promotion !== undefined && slot > 0) return { ...record, promotion: failRollingSlot(record.promotion, slot, reason, moved) };
  if (record.phase === 'aborting' || record.phase === 'finishing') return record;
  return toAborting(record, reason, record.phaseSince);
}

export function canaryProgress(record: CanaryRecord, wakeAt: number | undefined): RolloutProgress {
  const step = record.steps[record.step];
  const phase = record.phase === 'paused' && step?.pause === 'manual' ? 'paused (manual)' : record.phase;
  return {
    id: record.id, stack: record.stack, service: record.service, strategy: 'canary', revision: record.revision, direction: 'forward',
    batch: record.step + 1, batches: record.steps.length, phase, since: record.phaseSince, nextStepAt: wakeAt, weight: record.weight,
    ...(record.analysis === undefined ? {} : { analysis: { evaluations: record.evaluations, passed: record.passed, last: record.last, pending: record.window?.pending ?? 0 } }),
    ...(record.phase === 'paused' && step?.pause === 'manual' ? { awaitingPromotion: true } : {}),
  };
}

/** `10% → 50% → 100%` */
export function describeSteps(steps: readonly CanaryStep[]): string {
  return steps.map((s) => `${s.weight}%${typeof s.pause === 'number' ? ` (${seconds(s.pause)})` : s.pause === 'manual' ? ' (manual)' : ''}`).join(' → ');
}

function scaling(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  const { view, now } = input;
  const step = record.steps[record.step];
  if (step === undefined) return toFinishing(record, now);
  if (input.command === 'abort') return commanded(startAborting(record, 'aborted by `capstan abort`', now, input), 'aborted');
  const want = canaryCount(step.weight, record.slots.length);
  const actions: RolloutAction[] = [];
  let waiting = false;
  for (let n = 1; n <= want; n++) {
    const c = view.get(n)?.canary;
    if (c === undefined || !c.onTarget) {
      if (c !== undefined) actions.push({ kind: 'drain', slot: n, id: c.id }, { kind: 'remove', slot: n, id: c.id });
      actions.push({ kind: 'create', slot: n, as: 'canary', label: 'canary' });
      waiting = true;
      continue;
    }
    if (c.created) {
      actions.push({ kind: 'start', slot: n, id: c.id });
      waiting = true;
      continue;
    }
    if (c.readiness.kind === 'failed') return startAborting(record, `canary ${n} failed: ${c.readiness.reason}`, now, input);
    if (c.readiness.kind === 'waiting') {
      if (now >= record.phaseSince + record.progressDeadlineMs) {
        return startAborting(record, `${c.readiness.why} after ${seconds(record.progressDeadlineMs)} (progress deadline)`, now, input);
      }
      waiting = true;
    }
  }
  // The first step's share is set before its canaries are ready, so they join at that share, never at an even one.
  const weightNow = record.weight === 0 ? step.weight : record.weight;
  if (record.weight === 0) actions.push({ kind: 'split', slot: 0, split: { version: record.targetHash, weight: weightNow } });
  const marked: CanaryRecord = { ...record, weight: weightNow };
  if (waiting) return { record: marked, actions, wakeAt: Math.min(now + AWAIT_POLL_MS, record.phaseSince + record.progressDeadlineMs), end: undefined, command: undefined };

  // Every canary of the step is ready: the step's share, then its pause (or the promotion at 100 %).
  if (step.weight !== record.weight) actions.push({ kind: 'split', slot: 0, split: { version: record.targetHash, weight: step.weight } });
  for (let n = 1; n <= want; n++) {
    const c = view.get(n)?.canary;
    if (c !== undefined) actions.push({ kind: 'admit', slot: n, id: c.id });
  }
  if (step.weight >= 100) {
    const promotion = beginRolling({
      id: `${record.id}/promote`, stack: record.stack, service: record.service, revision: record.revision, targetHash: record.targetHash, targetDigest: record.targetDigest,
      slots: record.slots, direction: 'forward', order: record.order, configs: record.configs, progressDeadlineMs: record.progressDeadlineMs,
      now, previous: record.previous,
    });
    return { record: { ...marked, weight: 100, phase: 'promoting', phaseSince: now, promotion, window: undefined }, actions, wakeAt: now, end: undefined, command: undefined };
  }
  const next: CanaryRecord = { ...marked, weight: step.weight, phase: 'paused', phaseSince: now, passed: 0, window: { start: undefined, nextAt: now, pending: 0 } };
  return { record: next, actions, wakeAt: now, end: undefined, command: undefined };
}

function paused(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  const { view, now } = input;
  const step = record.steps[record.step];
  if (step === undefined) return toFinishing(record, now);
  if (input.command === 'abort') return commanded(startAborting(record, 'aborted by `capstan abort`', now, input), 'aborted');
  const want = canaryCount(step.weight, record.slots.length);
  for (let n = 1; n <= want; n++) {
    const c = view.get(n)?.canary;
    if (c === undefined || !c.onTarget) return startAborting(record, `canary ${n} is gone`, now, input);
    if (c.readiness.kind === 'failed') return startAborting(record, `canary ${n} failed: ${c.readiness.reason}`, now, input);
  }
  if (input.command === 'promote') return commanded(advance(record, now), `promoted past step ${record.step + 1} (${step.weight}%)`);

  // The analysis: a window is judged once it holds min_requests; a failing one aborts.
  let next = record;
  const spec = record.analysis;
  if (spec !== undefined && input.totals !== undefined) {
    const window = record.window;
    const start = window?.start;
    const since = start === undefined ? undefined : delta(input.totals, start);
    if (start === undefined || since === undefined) {
      next = { ...record, window: { start: input.totals, nextAt: now + spec.intervalMs, pending: 0 } };
    } else {
      const ev = evaluate(spec, since, input.prometheus, now);
      if (ev === undefined) next = { ...record, window: { start, nextAt: now + spec.intervalMs, pending: since.requests } };
      else if (!ev.ok) return startAborting({ ...record, evaluations: record.evaluations + 1, last: ev }, `canary analysis failed at ${step.weight}%: ${ev.reason ?? ''}`, now, input);
      else next = { ...record, evaluations: record.evaluations + 1, passed: record.passed + 1, last: ev, window: { start: input.totals, nextAt: now + spec.intervalMs, pending: 0 } };
    }
  }

  const analysisWake = spec === undefined ? undefined : next.window?.nextAt;
  if (step.pause === 'manual') return { record: next, actions: [], wakeAt: analysisWake, end: undefined, command: undefined };
  const pauseEnd = next.phaseSince + (step.pause ?? 0);
  if (now < pauseEnd) return { record: next, actions: [], wakeAt: min(pauseEnd, analysisWake), end: undefined, command: undefined };
  if (spec === undefined || next.passed > 0) return advance(next, now);
  // Too few requests to judge: the pause goes on, up to the progress deadline.
  const deadline = next.phaseSince + Math.max(step.pause ?? 0, record.progressDeadlineMs);
  if (now >= deadline) {
    const seen = next.window?.pending ?? 0;
    return startAborting(next, `canary analysis at ${step.weight}%: ${seen} request${seen === 1 ? '' : 's'} within ${seconds(deadline - next.phaseSince)}, fewer than min_requests ${spec.minRequests}`, now, input);
  }
  return { record: next, actions: [], wakeAt: min(deadline, analysisWake), end: undefined, command: undefined };
}

function advance(record: CanaryRecord, now: number): CanaryStepResult {
  const next: CanaryRecord = { ...record, step: record.step + 1, phase: 'scaling', phaseSince: now, window: undefined, passed: 0 };
  return { record: next, actions: [], wakeAt: now, end: undefined, command: undefined };
}

function promoting(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  const { now } = input;
  const promotion = record.promotion;
  if (promotion === undefined) return toFinishing(record, now);
  const step = stepRolling(promotion, input.view, now);
  const next: CanaryRecord = { ...record, promotion: step.record };
  if (step.end === undefined) return { record: next, actions: step.actions, wakeAt: step.wakeAt, end: undefined, command: undefined };
  if (step.end.kind === 'converged' || step.end.kind === 'converged-with-failures') {
    const finishing = toFinishing({ ...next, promotion: undefined }, now);
    return { ...finishing, actions: [...step.actions, ...finishing.actions] };
  }
  const reason = 'reason' in step.end ? step.end.reason : 'the promotion rolled back';
  const aborting = toAborting({ ...next, promotion: undefined }, `promoting the canary failed: ${reason}`, now, step.end);
  const r = aborting_(aborting, input);
  return { ...r, actions: [...step.actions, ...r.actions] };
}

/**
 * The last step's promotion when the engine runs it itself (Swarm's rolling
 * update of the stable service) instead of the nested rolling record: done,
 * the canaries retire as after our own promotion; failed (Swarm rolled the
 * stable service back), the canary aborts.
 */
export function endEnginePromotion(record: CanaryRecord, outcome: { ok: true } | { ok: false; reason: string }, view: SlotViews, now: number): CanaryStepResult {
  const next: CanaryRecord = { ...record, promotion: undefined };
  if (outcome.ok) return toFinishing(next, now, view);
  return aborting_(toAborting(next, `promoting the canary failed: ${outcome.reason}`, now), { view, totals: undefined, prometheus: undefined, command: undefined, now });
}

function finishing(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  return toFinishing(record, input.now, input.view);
}

/** The stable replicas run the new version: the canaries leave (drained first), the split with them. */
function toFinishing(record: CanaryRecord, now: number, view?: SlotViews): CanaryStepResult {
  const next: CanaryRecord = { ...record, phase: 'finishing', phaseSince: record.phase === 'finishing' ? record.phaseSince : now };
  const actions = view === undefined ? [] : retireCanaries(record, view);
  if (view === undefined) return { record: next, actions, wakeAt: now, end: undefined, command: undefined };
  return { record: { ...next, weight: 0 }, actions: [...actions, { kind: 'split', slot: 0, split: undefined }], wakeAt: undefined, end: { kind: 'promoted' }, command: undefined };
}

function toAborting(record: CanaryRecord, reason: string, now: number, promotion?: RollingEnd): CanaryRecord {
  return { ...record, phase: 'aborting', phaseSince: now, abort: record.abort ?? { reason, promotion } };
}

function startAborting(record: CanaryRecord, reason: string, now: number, input: CanaryInput): CanaryStepResult {
  return aborting_(toAborting(record, reason, now), input);
}

function aborting(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  if (input.command === 'abort') return commanded(aborting_(record, input), 'already aborting');
  return aborting_(record, input);
}

/** Traffic back to stable in the same step: the canaries leave the table (drained), then are removed; the split goes. */
function aborting_(record: CanaryRecord, input: CanaryInput): CanaryStepResult {
  const abort = record.abort ?? { reason: 'aborted', promotion: undefined };
  const actions: RolloutAction[] = [...retireCanaries(record, input.view), { kind: 'split', slot: 0, split: undefined }];
  const end: CanaryEnd = abort.promotion === undefined
    ? { kind: 'aborted', reason: abort.reason, evaluation: record.last }
    : { kind: 'promotion-failed', reason: abort.reason, promotion: abort.promotion };
  return { record: { ...record, weight: 0 }, actions, wakeAt: undefined, end, command: undefined };
}

function retireCanaries(record: CanaryRecord, view: SlotViews): RolloutAction[] {
  return canaryNumbers(record).flatMap((n): RolloutAction[] => {
    const c = view.get(n)?.canary;
    return c === undefined ? [] : [{ kind: 'drain', slot: n, id: c.id }, { kind: 'remove', slot: n, id: c.id }];
  });
}

function commanded(r: CanaryStepResult, message: string): CanaryStepResult {
  return { ...r, command: { done: true, message } };
}

function min(a: number, b: number | undefined): number {
  return b === undefined ? a : Math.min(a, b);
}

/** `canary web/api: 10% → 50% → 100%, analysis error rate ≤ 1 % …` for a plan. */
export function describeCanary(stack: string, service: string, steps: readonly CanaryStep[], analysis: AnalysisSpec | undefined): string {
  return `canary ${stack}/${service}: ${describeSteps(steps)}${analysis === undefined ? '' : `, analysis ${describeAnalysis(analysis)}`}`;
}
