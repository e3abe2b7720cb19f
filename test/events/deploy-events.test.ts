import { describe, expect, it } from 'vitest';
import { DeployEvents } from '../../src/events/deploy-events.js';
import { outcomesFromStatus } from '../../src/events/from-status.js';
import type { DeployEvent } from '../../src/events/model.js';
import type { StackStatus } from '../../src/status/model.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function tracker(): { events: DeployEvent[]; d: DeployEvents } {
  const events: DeployEvent[] = [];
  return { events, d: new DeployEvents((e) => events.push(e)) };
}

const kinds = (events: readonly DeployEvent[]): string[] => events.map((e) => `${e.kind} ${e.stack}${'revision' in e ? ` ${e.revision.slice(0, 1)}` : ''}`);

describe('deploy events', () => {
  it('announces each deploy once, however many passes it takes, and converges the revision that was deployed', () => {
    const { events, d } = tracker();
    d.started(A, ['web', 'jobs']);
    d.passEnded([{ stack: 'web', revision: A, outcome: 'progressing' }, { stack: 'jobs', revision: A, outcome: 'converged', message: '1/1 services ready' }], []);
    // A later commit that does not touch web: web's deploy of A converges.
    d.passEnded([{ stack: 'web', revision: B, outcome: 'converged', message: '2/2 services ready' }], []);
    // A heal of the converged stack at the same revision is no deploy.
    d.started(B, ['web']);
    d.started(B, ['web']);
    expect(kinds(events)).toEqual(['deploy.started web a', 'deploy.started jobs a', 'deploy.converged jobs a', 'deploy.converged web a', 'deploy.started web b']);
  });

  it('reports a failure once, a rollback with its auto-revert, and a deploy superseded before it converged', () => {
    const { events, d } = tracker();
    d.started(A, ['web']);
    const failed = { stack: 'web', revision: A, outcome: 'failed' as const, reason: 'boom', rolledBack: true, revert: C };
    d.passEnded([failed], []);
    d.passEnded([{ ...failed, revert: undefined }], []);
    d.started(B, ['web']);
    d.started(C, ['web']);
    expect(kinds(events)).toEqual(['deploy.started web a', 'deploy.rolled-back web a', 'deploy.auto-reverted web a', 'deploy.started web b', 'deploy.superseded web b', 'deploy.started web c']);
  });

  it('a crash loop fails a deploy in flight, and is only a crash loop for a converged stack', () => {
    const { events, d } = tracker();
    const loop = { stack: 'web', service: 'worker', replica: 'web-worker-1', exitCode: 3, lastLogLines: ['fatal'] };
    d.started(A, ['web']);
    d.passEnded([{ stack: 'web', revision: A, outcome: 'degraded', reason: 'web-worker-1 is crash-looping' }], [loop]);
    d.passEnded([{ stack: 'web', revision: A, outcome: 'converged', message: '1/1 services ready' }], []);
    d.passEnded([{ stack: 'web', revision: A, outcome: 'degraded', reason: 'web-worker-1 is crash-looping' }], [loop]);
    expect(kinds(events)).toEqual([
      'deploy.started web a', 'deploy.failed web a', 'crash-loop.started web', 'deploy.converged web a', 'crash-loop.ended web', 'crash-loop.started web',
    ]);
  });

  it('reads how a pass ended for each stack from its status document', () => {
    const status = (stack: string, conditions: StackStatus['conditions']): StackStatus => ({ stack, lastAppliedRevision: A, lastAttemptedRevision: B, conditions, services: {} });
    const t = '2026-12-06T10:00:00Z';
    const outcomes = outcomesFromStatus([
      status('ok', [{ type: 'Ready', status: 'True', reason: 'Converged', message: '1/1 services ready', lastTransitionTime: t }]),
      status('rb', [{ type: 'Ready', status: 'False', reason: 'ApplyFailed', message: 'boom', lastTransitionTime: t }, { type: 'Degraded', status: 'True', reason: 'RolledBack', message: 'rolled back', lastTransitionTime: t }]),
      status('bad', [{ type: 'Ready', status: 'False', reason: 'ManifestsInvalid', message: 'x', lastTransitionTime: t }]),
      status('slow', [{ type: 'Ready', status: 'False', reason: 'Progressing', message: '0/1', lastTransitionTime: t }]),
    ], C);
    expect(outcomes).toEqual([
      { stack: 'ok', revision: B, outcome: 'converged', message: '1/1 services ready' },
      { stack: 'rb', revision: B, outcome: 'failed', reason: 'boom', rolledBack: true, revert: C },
      { stack: 'slow', revision: B, outcome: 'progressing' },
    ]);
  });
});
