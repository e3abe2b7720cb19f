import { describe, expect, it } from 'vitest';
import { DeployEvents } from '../../src/events/deploy-events.js';
import type { DeployEvent } from '../../src/events/model.js';
import { ImagePullError, RolloutFailedError } from '../../src/errors.js';
import { announcePass, deployOutcomeOf } from '../../src/reconciler/deploy-outcome.js';
import type { LaneOutcome } from '../../src/reconciler/stack-pass.js';
import type { ServiceHealth } from '../../src/status/service-health.js';

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
    const failed = { stack: 'web', revision: A, outcome: 'failed' as const, reason: 'boom', imagePull: false, rolledBack: true, revert: C };
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

  it('keeps each stack\'s crash loops apart: a pass of one stack ends none of another\'s', () => {
    const { events, d } = tracker();
    const loop = (stack: string) => ({ stack, service: 'worker', replica: `${stack}-worker-1`, exitCode: 3, lastLogLines: [] });
    d.passEnded([{ stack: 'web', revision: A, outcome: 'degraded', reason: 'x' }], [loop('web')]);
    d.passEnded([{ stack: 'jobs', revision: A, outcome: 'converged', message: '1/1 services ready' }], []);
    d.passEnded([{ stack: 'web', revision: A, outcome: 'converged', message: '1/1 services ready' }], []);
    expect(kinds(events)).toEqual(['crash-loop.started web', 'crash-loop.ended web']);
  });

  it('reports an invalid commit once per stack', () => {
    const { events, d } = tracker();
    const invalid = { stack: 'web', revision: B, outcome: 'invalid' as const, reason: 'stacks/web.yaml:3:5 unknown key' };
    d.passEnded([invalid], []);
    d.passEnded([invalid], []);
    expect(events).toEqual([{ kind: 'deploy.invalid', stack: 'web', revision: B, reason: 'stacks/web.yaml:3:5 unknown key' }]);
  });
});

describe('deploy outcomes from lane outcomes', () => {
  const lane = (o: Partial<LaneOutcome>): LaneOutcome => ({
    kind: 'progressing', reason: 'Applied', stack: 'web', revision: B, planned: 0, lines: [], operations: [], applied: 0, failures: [], progress: [], requeueAt: undefined, health: undefined, invalid: undefined, ...o,
  });
  const healthy = (service: string): ServiceHealth => ({
    stack: 'web', service, desired: 1, running: 1, ready: 1, status: 'Healthy', reason: undefined, unhealthy: [], crashLoop: undefined,
    live: { message: '1/1 replicas ready', crashes: undefined, nextRestartAt: undefined, probeFailures: {} },
  });
  const failure = (error: Error) => ({ id: 'x', reason: 'rollout' as const, stack: 'web', service: 'api', line: 'recreate web-api-1', error });

  it('reads the typed outcome: converged with its services, a rollback or a pull by the error\'s type, a crash loop from health', () => {
    expect(deployOutcomeOf(lane({ kind: 'converged', reason: 'Converged', health: [healthy('api'), healthy('db')] }), undefined))
      .toEqual({ stack: 'web', revision: B, outcome: 'converged', message: '2/2 services ready' });
    const rolledBack = new RolloutFailedError('web', 'api', B, 'rolled-back', 'probe failed');
    expect(deployOutcomeOf(lane({ kind: 'failed', reason: 'RolloutFailed', failures: [failure(rolledBack)] }), C))
      .toEqual({ stack: 'web', revision: B, outcome: 'failed', reason: rolledBack.message, imagePull: false, rolledBack: true, revert: C });
    const pull = new ImagePullError('example/api:2', 'registry.example', 'unauthorized', 'denied', { stack: 'web', service: 'api' });
    expect(deployOutcomeOf(lane({ kind: 'failed', reason: 'ApplyFailed', failures: [{ ...failure(pull), reason: 'new-service' as const }] }), undefined))
      .toMatchObject({ outcome: 'failed', imagePull: true, rolledBack: false });
    const looping: ServiceHealth = { ...healthy('api'), status: 'Degraded', reason: 'CrashLoop', crashLoop: { replica: 'web-api-1', exitCode: 3, lastLogLines: ['fatal'] }, live: { ...healthy('api').live, message: 'web-api-1 is crash-looping' } };
    expect(deployOutcomeOf(lane({ kind: 'failed', reason: 'ReplicasFailing', health: [looping] }), undefined))
      .toEqual({ stack: 'web', revision: B, outcome: 'degraded', reason: 'api: web-api-1 is crash-looping' });
    expect(deployOutcomeOf(lane({ kind: 'failed', reason: 'ManifestsInvalid', revision: A, invalid: { revision: B, problems: ['stacks/web.yaml:1:1 bad'] } }), undefined))
      .toEqual({ stack: 'web', revision: B, outcome: 'invalid', reason: 'stacks/web.yaml:1:1 bad' });
    expect(deployOutcomeOf(lane({ revision: undefined }), undefined)).toBeUndefined();

    // Through announcePass: the first pass that plans changes starts the deploy; the crash loop is announced from the health.
    const { events, d } = tracker();
    announcePass(d, lane({ planned: 2 }), undefined);
    announcePass(d, lane({ kind: 'failed', reason: 'ReplicasFailing', health: [looping] }), undefined);
    expect(kinds(events)).toEqual(['deploy.started web b', 'deploy.failed web b', 'crash-loop.started web']);
    expect(events[1]).toMatchObject({ cause: 'replicas' });
  });
});
