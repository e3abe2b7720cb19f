// Today's loop hands deploy events the status documents it just made: each
// stack's conditions say how the pass ended for it. Pure.

import type { StackStatus } from '../status/model.js';
import type { CrashLoopFact, StackPassOutcome } from './deploy-events.js';

export function outcomesFromStatus(stacks: Iterable<StackStatus>, revert: string | undefined): StackPassOutcome[] {
  const out: StackPassOutcome[] = [];
  for (const s of stacks) {
    const revision = s.lastAttemptedRevision;
    if (revision === undefined) continue;
    const ready = s.conditions.find((c) => c.type === 'Ready');
    const degraded = s.conditions.find((c) => c.type === 'Degraded' && c.status === 'True');
    const stack = s.stack;
    if (ready?.status === 'True') out.push({ stack, revision, outcome: 'converged', message: ready.message });
    else if (degraded?.reason === 'RolledBack') out.push({ stack, revision, outcome: 'failed', reason: ready?.message ?? degraded.message, rolledBack: true, revert });
    else if (ready?.reason === 'ApplyFailed') out.push({ stack, revision, outcome: 'failed', reason: ready.message, rolledBack: false, revert });
    else if (degraded?.reason === 'CrashLoop') out.push({ stack, revision, outcome: 'degraded', reason: degraded.message });
    else if (ready?.reason === 'SyncWindowClosed') out.push({ stack, revision, outcome: 'held' });
    // An invalid commit is applied to no stack: nothing was deployed, so there is no deploy to report.
    else if (ready?.reason !== 'ManifestsInvalid') out.push({ stack, revision, outcome: 'progressing' });
  }
  return out;
}

export function crashLoopsFromStatus(stacks: Iterable<StackStatus>): CrashLoopFact[] {
  const out: CrashLoopFact[] = [];
  for (const s of stacks) {
    for (const [service, status] of Object.entries(s.services)) {
      const loop = status.crashLoop;
      if (loop !== undefined) out.push({ stack: s.stack, service, replica: loop.replica, exitCode: loop.exitCode, lastLogLines: loop.lastLogLines });
    }
  }
  return out;
}
