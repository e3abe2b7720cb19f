// The status of each stack after a pass (DESIGN §8), as a pure function of
// the previous status, what the pass found and the time it was given. No I/O
// and no clock of its own: a condition whose status did not change keeps its
// lastTransitionTime, so an idle operator computes byte-identical documents.

import type { DesiredState } from '../desired/model.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';

export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled' | 'Degraded';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  /** ISO 8601 without milliseconds, e.g. 2026-11-25T10:00:00Z. */
  lastTransitionTime: string;
}

export interface ServiceStatus {
  image: string;
  specHash: string;
  replicas: { desired: number; ready: number };
}

export interface StackStatus {
  stack: string;
  /** Full sha that runs now; undefined until a revision was applied. */
  lastAppliedRevision: string | undefined;
  lastAttemptedRevision: string | undefined;
  conditions: readonly Condition[];
  /** Keyed by service name, sorted. */
  services: Readonly<Record<string, ServiceStatus>>;
}

export interface OperatorStatus {
  instance: string;
  version: string;
  backend: string;
  /** Message of the last failed pass; undefined once a pass succeeds. */
  lastError: string | undefined;
}

/** What a pass tells status about one stack. */
export type StackOutcome =
  | { kind: 'applied' } // engine matches the revision (or was made to)
  | { kind: 'apply-failed'; failures: readonly string[] }
  /** A rollout failed and was rolled back (this pass, or earlier and held since); `revert` is the auto-revert commit when one was pushed. */
  | { kind: 'rolled-back'; failures: readonly string[]; revert: string | undefined }
  | { kind: 'invalid'; problems: readonly string[] }
  | { kind: 'error'; reason: string; message: string };

/** The order conditions are written in, so files diff cleanly. */
const ORDER: readonly ConditionType[] = ['Ready', 'Reconciling', 'Stalled', 'Degraded'];

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A replica counts as ready when it runs and, if it has a healthcheck, is healthy. */
export function isReadyReplica(c: ObservedContainer): boolean {
  return c.state === 'running' && (c.health === undefined || c.health === 'healthy');
}

function isFailingReplica(c: ObservedContainer): boolean {
  return c.state === 'exited' || c.state === 'dead' || c.state === 'restarting' || c.health === 'unhealthy';
}

/** Services of a stack as desired at `desired.revision`, counted from the snapshot. */
export function servicesOf(desired: DesiredState, stack: string, observed: ObservedState): Record<string, ServiceStatus> {
  const out: Record<string, ServiceStatus> = {};
  const spec = desired.stacks.find((s) => s.name === stack);
  for (const service of [...(spec?.services ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const replicas = observed.containers.filter((c) => c.stack === stack && c.service === service.name && c.specHash === service.specHash);
    out[service.name] = {
      image: service.spec.image,
      specHash: service.specHash,
      replicas: { desired: service.spec.replicas, ready: replicas.filter(isReadyReplica).length },
    };
  }
  return out;
}

type Wanted = Omit<Condition, 'lastTransitionTime'>;

/** Keep the previous transition time of a condition whose status is unchanged. */
function settle(previous: readonly Condition[], wanted: readonly Wanted[], now: string): Condition[] {
  return wanted
    .map((w) => {
      const before = previous.find((p) => p.type === w.type);
      return { ...w, lastTransitionTime: before !== undefined && before.status === w.status ? before.lastTransitionTime : now };
    })
    .sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
}

function summarize(lines: readonly string[], max = 5): string {
  const shown = lines.slice(0, max).join('; ');
  return lines.length > max ? `${shown}; and ${lines.length - max} more` : shown;
}

/**
 * Conditions follow Flux's polarity: Ready is always present; Reconciling,
 * Stalled and Degraded appear only while True, so a healthy stack's file
 * holds one condition and nothing flaps between True and False.
 */
export function stackConditions(outcome: StackOutcome, services: Readonly<Record<string, ServiceStatus>>, observed: readonly ObservedContainer[], revision: string | undefined): Wanted[] {
  const sha = revision?.slice(0, 7) ?? 'unknown';
  switch (outcome.kind) {
    case 'invalid':
      return [
        { type: 'Ready', status: 'False', reason: 'ManifestsInvalid', message: `${sha} is invalid; the last good revision keeps running` },
        { type: 'Stalled', status: 'True', reason: 'ManifestsInvalid', message: summarize(outcome.problems) },
      ];
    case 'apply-failed':
      return [
        { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: summarize(outcome.failures) },
        { type: 'Reconciling', status: 'True', reason: 'RetryingApply', message: `applying ${sha} failed; retrying` },
      ];
    case 'rolled-back':
      return [
        { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: summarize(outcome.failures) },
        {
          type: 'Degraded', status: 'True', reason: 'RolledBack',
          message: outcome.revert === undefined ? `${sha} was rolled back: ${summarize(outcome.failures)}` : `${sha} failed to apply; reverted by ${outcome.revert.slice(0, 7)}`,
        },
      ];
    case 'error':
      return [{ type: 'Ready', status: 'False', reason: outcome.reason, message: outcome.message }];
    case 'applied': {
      const names = Object.keys(services);
      const ready = names.filter((n) => {
        const s = services[n];
        return s !== undefined && s.replicas.ready >= s.replicas.desired;
      });
      const failing = observed.filter(isFailingReplica).map((c) => `${c.name} ${c.health === 'unhealthy' ? 'unhealthy' : c.state}`);
      const counts = `${ready.length}/${names.length} services ready`;
      if (failing.length > 0) {
        return [
          { type: 'Ready', status: 'False', reason: 'ReplicasFailing', message: counts },
          { type: 'Degraded', status: 'True', reason: 'ReplicasFailing', message: summarize(failing) },
        ];
      }
      if (ready.length < names.length) {
        const waiting = names.filter((n) => !ready.includes(n)).map((n) => `${n} ${services[n]?.replicas.ready ?? 0}/${services[n]?.replicas.desired ?? 0}`);
        return [
          { type: 'Ready', status: 'False', reason: 'Progressing', message: counts },
          { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `waiting for replicas: ${summarize(waiting)}` },
        ];
      }
      return [{ type: 'Ready', status: 'True', reason: 'Converged', message: counts }];
    }
  }
}

export interface StackInput {
  stack: string;
  /** The revision this pass tried (undefined when it could not even resolve one). */
  revision: string | undefined;
  outcome: StackOutcome;
  /** Current services; undefined keeps the previous ones (a pass that could not look). */
  services: Readonly<Record<string, ServiceStatus>> | undefined;
  /** The stack's containers in the snapshot, for failing replicas. */
  containers: readonly ObservedContainer[];
}

export function nextStackStatus(previous: StackStatus | undefined, input: StackInput, nowMs: number): StackStatus {
  const applied = input.outcome.kind === 'applied';
  return {
    stack: input.stack,
    lastAppliedRevision: applied ? input.revision : previous?.lastAppliedRevision,
    lastAttemptedRevision: input.revision ?? previous?.lastAttemptedRevision,
    conditions: settle(previous?.conditions ?? [], stackConditions(input.outcome, input.services ?? previous?.services ?? {}, input.containers, input.revision), isoSeconds(nowMs)),
    services: input.services ?? previous?.services ?? {},
  };
}

export function isReady(status: StackStatus): boolean {
  return status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The condition worth naming in a commit subject: Stalled, then Degraded, then Ready or not. */
export function headline(status: StackStatus): string {
  if (status.conditions.some((c) => c.type === 'Stalled' && c.status === 'True')) return 'Stalled';
  if (status.conditions.some((c) => c.type === 'Degraded' && c.status === 'True')) return 'Degraded';
  if (isReady(status)) return 'Ready';
  return status.conditions.some((c) => c.type === 'Reconciling' && c.status === 'True') ? 'Reconciling' : 'NotReady';
}
