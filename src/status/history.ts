// A stack's deploys, read back from its status file's versions on the status
// branch (oldest first). Pure: the commits come in with their times. A deploy
// is a run of versions attempting the same revision; it starts with the first
// of them and ends with the first version whose outcome is final (converged,
// failed, rolled back, invalid; a failed apply that a retry then converges
// counts as converged, when it converged). A deploy that ran but left
// replicas failing, and never converged, is `degraded`. Status commits are made when something
// changes, not on a clock, so a deploy that converged within one pass has a
// single version and no measurable duration (null), rather than a made-up one.

import type { Condition, StackStatus } from './model.js';

export interface StatusVersion {
  /** The status commit. */
  commit: string;
  /** Its commit time, ms since the epoch. */
  timeMs: number;
  status: StackStatus;
}

export type DeployOutcome = 'succeeded' | 'degraded' | 'failed' | 'rolled-back' | 'invalid' | 'held' | 'in-progress' | 'superseded';

export interface Deploy {
  stack: string;
  revision: string;
  /** ISO time of the first status version that attempted it. */
  startedAt: string;
  /** ISO time of the version whose outcome is final; null while in progress or superseded. */
  finishedAt: string | null;
  durationSeconds: number | null;
  outcome: DeployOutcome;
  /** The condition that says why (Ready's message, or Stalled/Degraded's when worse). */
  message: string;
  /** The status commit that recorded the outcome. */
  statusCommit: string;
}

/** Outcomes that end a deploy; a failed apply is retried, so a later success in the same run of versions wins over it. */
const FINAL: ReadonlySet<DeployOutcome> = new Set(['succeeded', 'failed', 'rolled-back', 'invalid']);

function condition(s: StackStatus, type: Condition['type']): Condition | undefined {
  return s.conditions.find((c) => c.type === type && (type === 'Ready' || c.status === 'True'));
}

/** What one status version says about its attempted revision. */
export function outcomeOf(s: StackStatus): DeployOutcome {
  const ready = condition(s, 'Ready');
  if (condition(s, 'Stalled')?.reason === 'ManifestsInvalid' || ready?.reason === 'ManifestsInvalid') return 'invalid';
  if (condition(s, 'Degraded')?.reason === 'RolledBack') return 'rolled-back';
  if (ready?.reason === 'SyncWindowClosed') return 'held';
  if (ready?.reason === 'ApplyFailed') return 'failed';
  const applied = s.lastAppliedRevision !== undefined && s.lastAppliedRevision === s.lastAttemptedRevision;
  if (ready?.status === 'True' && applied) return 'succeeded';
  if (applied && condition(s, 'Degraded') !== undefined) return 'degraded';
  return 'in-progress';
}

function explain(s: StackStatus): string {
  const worst = condition(s, 'Stalled') ?? condition(s, 'Degraded') ?? condition(s, 'Reconciling') ?? condition(s, 'Ready');
  return worst === undefined ? '' : `${worst.reason}: ${worst.message}`;
}

/** Deploys, newest first. */
export function deploysOf(versions: readonly StatusVersion[]): Deploy[] {
  const out: Deploy[] = [];
  let current: { first: StatusVersion; final: StatusVersion | undefined; last: StatusVersion } | undefined;
  const close = (superseded: boolean): void => {
    if (current === undefined) return;
    const { first, final, last } = current;
    const end = final ?? last;
    const outcome = final !== undefined ? outcomeOf(final.status) : superseded && outcomeOf(last.status) === 'in-progress' ? 'superseded' : outcomeOf(last.status);
    const finished = final === undefined ? undefined : final.timeMs;
    out.push({
      stack: first.status.stack,
      revision: first.status.lastAttemptedRevision ?? '',
      startedAt: new Date(first.timeMs).toISOString(),
      finishedAt: finished === undefined ? null : new Date(finished).toISOString(),
      durationSeconds: finished === undefined || final === first ? null : (finished - first.timeMs) / 1000,
      outcome,
      message: explain(end.status),
      statusCommit: end.commit,
    });
  };
  for (const v of versions) {
    const revision = v.status.lastAttemptedRevision;
    if (revision === undefined) continue;
    if (current === undefined || current.first.status.lastAttemptedRevision !== revision) {
      close(true);
      current = { first: v, final: undefined, last: v };
    }
    current.last = v;
    const outcome = outcomeOf(v.status);
    if (current.final === undefined ? FINAL.has(outcome) : outcomeOf(current.final.status) !== 'succeeded' && outcome === 'succeeded') current.final = v;
  }
  close(false);
  return out.reverse();
}
