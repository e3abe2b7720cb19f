// The autoscaler's decision, as Kubernetes' HorizontalPodAutoscaler makes it
// (pure; time comes in): desired = ceil(current × metric / target), left
// alone while the ratio is within 10 % of 1; a rise is taken at once, a fall
// only once every recommendation of the last `cooldown` agrees (the highest
// of them wins: the scale-down stabilization window), so a steady load never
// flaps. Git's min and max bound it; a recommendation held beyond a bound
// for longer than the cooldown is reported.

import type { AutoscaleSpec } from '../manifests/model.js';

/** Kubernetes' default --horizontal-pod-autoscaler-tolerance. */
export const TOLERANCE = 0.1;

export interface AutoscaleState {
  /** The count chosen last. */
  replicas: number;
  /** Recent recommendations (unclamped by the window, clamped by min/max), newest last. */
  recommendations: readonly { at: number; replicas: number }[];
  /** Since when the unclamped recommendation is beyond a bound, and which. */
  limited: { bound: 'min' | 'max'; since: number; wanted: number } | undefined;
}

export interface AutoscaleDecision {
  state: AutoscaleState;
  /** The metric per replica it judged, and its target. */
  metric: number;
  target: number;
  /** Set once a bound has held the count for longer than the cooldown. */
  limitedFor: { bound: 'min' | 'max'; wanted: number; sinceMs: number } | undefined;
}

export function startAutoscale(spec: AutoscaleSpec, current: number): AutoscaleState {
  return { replicas: clamp(current, spec), recommendations: [], limited: undefined };
}

/** HPA's formula: the count that brings the per-replica metric to the target, or `current` within the tolerance. */
export function recommend(current: number, perReplica: number, target: number): number {
  if (current === 0) return 1;
  const ratio = perReplica / target;
  if (Math.abs(ratio - 1) <= TOLERANCE) return current;
  return Math.max(1, Math.ceil(current * ratio));
}

/** One sample: `perReplica` is the metric averaged over the replicas that ran (requests/s or CPU %). */
export function decide(spec: AutoscaleSpec, state: AutoscaleState, perReplica: number, now: number): AutoscaleDecision {
  const target = spec.target.kind === 'rps' ? spec.target.perReplica : spec.target.percent;
  const wanted = recommend(state.replicas, perReplica, target);
  const bounded = clamp(wanted, spec);
  const recommendations = [...state.recommendations.filter((r) => r.at > now - spec.cooldownMs), { at: now, replicas: bounded }];
  // Up at once; down to the highest recommendation of the window.
  const stabilized = Math.max(...recommendations.map((r) => r.replicas));
  const replicas = bounded > state.replicas ? bounded : Math.min(state.replicas, stabilized);
  const bound: 'min' | 'max' | undefined = wanted > spec.max ? 'max' : wanted < spec.min ? 'min' : undefined;
  const limited = bound === undefined ? undefined : state.limited?.bound === bound ? { ...state.limited, wanted } : { bound, since: now, wanted };
  const limitedFor = limited !== undefined && now - limited.since >= spec.cooldownMs ? { bound: limited.bound, wanted: limited.wanted, sinceMs: now - limited.since } : undefined;
  return { state: { replicas, recommendations, limited }, metric: perReplica, target, limitedFor };
}

export function clamp(n: number, spec: Pick<AutoscaleSpec, 'min' | 'max'>): number {
  return Math.min(spec.max, Math.max(spec.min, n));
}
