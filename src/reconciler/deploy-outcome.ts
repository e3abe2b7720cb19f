// How a lane pass ended, as deploy events hear it (src/events/): from the
// lane's typed outcome — its kind and reason, the typed errors of its
// failures, each service's health — never read back from status text. The
// daemon announces every lane pass and `capstan apply` each of its passes
// through here, so both post the same commit statuses and notifications.

import type { CrashLoopFact, DeployEvents, StackPassOutcome } from '../events/deploy-events.js';
import { ImagePullError, RolloutFailedError } from '../errors.js';
import { failureMessage, type LaneOutcome } from './stack-pass.js';

/** `revert`: the auto-revert commit the pass's status report pushed, if it did. */
export function announcePass(deploys: DeployEvents, outcome: LaneOutcome, revert: string | undefined): void {
  const ended = deployOutcomeOf(outcome, revert);
  if (ended === undefined) return;
  // The first pass that changes a stack toward a revision begins its deploy; healing to the last good one while the newest is invalid does not.
  if (outcome.invalid === undefined && outcome.planned > 0 && outcome.kind !== 'held') deploys.started(ended.revision, [outcome.stack]);
  deploys.passEnded([ended], crashLoopsOf(outcome));
}

export function deployOutcomeOf(o: LaneOutcome, revert: string | undefined): StackPassOutcome | undefined {
  const { stack } = o;
  if (o.invalid !== undefined) return { stack, revision: o.invalid.revision, outcome: 'invalid', reason: o.invalid.problems.join('; ') };
  const revision = o.revision;
  if (revision === undefined) return undefined;
  const health = o.health ?? [];
  switch (o.kind) {
    case 'converged':
      return { stack, revision, outcome: 'converged', message: `${health.length}/${health.length} services ready` };
    case 'failed': {
      if (o.failures.length === 0) {
        const failing = health.filter((h) => h.status === 'Degraded').map((h) => `${h.service}: ${h.live.message}`);
        return { stack, revision, outcome: 'degraded', reason: failing.join('; ') || 'replicas are failing' };
      }
      return {
        stack, revision, outcome: 'failed', reason: o.failures.map(failureMessage).join('; '),
        imagePull: o.failures.some((f) => f.error instanceof ImagePullError),
        rolledBack: o.failures.some((f) => f.error instanceof RolloutFailedError && f.error.end === 'rolled-back'),
        revert,
      };
    }
    case 'held':
      return { stack, revision, outcome: 'held' };
    case 'progressing':
    case 'superseded':
      return { stack, revision, outcome: 'progressing' };
  }
}

function crashLoopsOf(o: LaneOutcome): CrashLoopFact[] {
  return (o.health ?? []).flatMap((h) => (h.crashLoop === undefined ? [] : [{ stack: o.stack, service: h.service, replica: h.crashLoop.replica, exitCode: h.crashLoop.exitCode, lastLogLines: h.crashLoop.lastLogLines }]));
}
