// Turns what one pass found (its result, or the error it ended with) into the
// next status of every stack and of the operator. Pure: the caller passes the
// previous documents and the time; stacks that left Git leave status too.

import type { MountSpec } from '../manifests/model.js';
import type { DesiredState } from '../desired/model.js';
import { LABEL } from '../desired/labels.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import { describeHeld, type HeldRollout } from '../strategies/rolling.js';
import { nextStackStatus, servicesOf, type OperatorStatus, type StackStatus } from './model.js';
import type { ServiceHealth } from './service-health.js';

/** What a pass saw of the engine: the snapshot and each service's health in it (see assessServices). */
interface Seen {
  desired: DesiredState;
  observed: ObservedState;
  health: readonly ServiceHealth[];
}

export type PassReport =
  /**
   * The engine matches `desired` (nothing to do, or every operation applied),
   * except for rollouts held after failing (`held`) and stacks whose changes a
   * closed sync window holds (`windowHeld`: how many, per stack).
   */
  | (Seen & { kind: 'converged'; held?: readonly HeldRollout[]; windowHeld?: ReadonlyMap<string, number> })
  /** Some operations failed (`rolledBack`: a rollout that was rolled back); `revert` is the sha of an auto-revert pushed for it. */
  | (Seen & { kind: 'apply-failed'; failures: readonly { stack: string | undefined; message: string; rolledBack?: boolean; imagePull?: boolean }[]; revert: string | undefined })
  | { kind: 'invalid'; revision: string | undefined; problems: readonly string[] }
  | { kind: 'error'; revision: string | undefined; reason: string; message: string };

export function stackStatusesAfter(previous: ReadonlyMap<string, StackStatus>, report: PassReport, nowMs: number): Map<string, StackStatus> {
  const next = new Map<string, StackStatus>();
  if (report.kind === 'converged' || report.kind === 'apply-failed') {
    const { desired, observed } = report;
    for (const stack of desired.stacks) {
      const mine = report.kind === 'apply-failed' ? report.failures.filter((f) => f.stack === stack.name || f.stack === undefined) : [];
      const failures = mine.map((f) => f.message);
      const held = report.kind === 'converged' ? (report.held ?? []).filter((h) => h.stack === stack.name).map(describeHeld) : [];
      const waiting = report.kind === 'converged' ? report.windowHeld?.get(stack.name) : undefined;
      const revert = report.kind === 'apply-failed' ? report.revert : undefined;
      const outcome =
        held.length > 0 ? { kind: 'rolled-back' as const, failures: held, revert: undefined }
        : waiting !== undefined ? { kind: 'held' as const, waiting }
        : failures.length === 0 ? { kind: 'applied' as const }
        : revert !== undefined || mine.some((f) => f.rolledBack === true) ? { kind: 'rolled-back' as const, failures, revert }
        : { kind: 'apply-failed' as const, failures, imagePulls: mine.filter((f) => f.imagePull === true).map((f) => f.message) };
      const specs = new Map(stack.services.map((s) => [s.name, { image: runningImage(s.spec.image, s.specHash, observed.containers.filter((c) => c.stack === stack.name && c.service === s.name)), specHash: s.specHash, dataDirs: dataDirsOf(s.stack, s.spec.volumes) }]));
      const input = {
        stack: stack.name,
        revision: desired.revision,
        outcome,
        // What runs while changes wait is the previous revision: its services stay as last reported.
        services: waiting !== undefined ? undefined : servicesOf(stack.name, report.health, specs),
        containers: observed.containers.filter((c) => c.stack === stack.name),
      };
      next.set(stack.name, nextStackStatus(previous.get(stack.name), input, nowMs));
    }
    return next;
  }
  // Nothing new was learnt about the engine: every known stack keeps its services.
  const outcome = report.kind === 'invalid' ? { kind: 'invalid' as const, problems: report.problems } : { kind: 'error' as const, reason: report.reason, message: report.message };
  for (const [name, before] of previous) {
    next.set(name, nextStackStatus(before, { stack: name, revision: report.revision, outcome, services: undefined, containers: [] }, nowMs));
  }
  return next;
}

/**
 * `repo:tag@sha256:…`: the tag Git names and the repo digest its replicas
 * were made from (their io.capstan.image-digest label), so status says what
 * runs, not only what was asked for. Git's reference alone while replicas
 * disagree (mid-roll) or carry no digest (images built here).
 */
export function runningImage(image: string, specHash: string, containers: readonly ObservedContainer[]): string {
  if (image.includes('@')) return image;
  const digests = new Set(containers.filter((c) => c.specHash === specHash).map((c) => c.labels[LABEL.imageDigest]));
  const [only] = digests;
  return digests.size === 1 && only !== undefined && only !== '' ? `${image}@${only}` : image;
}

export function operatorStatusAfter(base: Omit<OperatorStatus, 'lastError'>, report: PassReport): OperatorStatus {
  const lastError =
    report.kind === 'converged' ? undefined
    : report.kind === 'apply-failed' ? `${report.failures.length} operation${report.failures.length === 1 ? '' : 's'} failed at ${report.desired.revision.slice(0, 7)}`
    : report.kind === 'invalid' ? `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'} in manifests${report.revision === undefined ? '' : ` at ${report.revision.slice(0, 7)}`}`
    : report.message;
  return { ...base, lastError };
}

/** Where each data directory of a service lives, below the data dir (see DeployContext.bindsDir). */
function dataDirsOf(stack: string, volumes: readonly MountSpec[]): Record<string, string> {
  return Object.fromEntries(volumes.filter((m) => m.type === 'bind' && m.persistent === true).map((m) => [m.target, `binds/${stack}/${m.source}`]));
}
