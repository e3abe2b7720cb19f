// The pure status model: conditions from a pass, transition times kept while
// a condition holds, the rendered file, the auto-revert rule and the commit
// message. Hand-built desired/observed values; no Git, no Docker.

import { describe, expect, it } from 'vitest';
import { ApplyError } from '../../src/errors.js';
import type { ObservedState } from '../../src/observed/model.js';
import { operatorStatusAfter, stackStatusesAfter } from '../../src/status/from-pass.js';
import type { StackStatus } from '../../src/status/model.js';
import { parseStackStatus, renderOperatorStatus, renderStackStatus } from '../../src/status/render.js';
import { autoRevertCandidate, commitMessage } from '../../src/status/reporter.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedNetwork, observedReplica } from '../helpers/specs.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const T1 = Date.parse('2026-11-25T10:05:00Z');

const api = desiredService('web', 'api', { replicas: 2 });
const desired = desiredState(REV_A, [desiredStack('web', [api])]);

function observed(containers = [observedReplica(api, 1), observedReplica(api, 2)]): ObservedState {
  return { instance: 'test', containers, networks: [observedNetwork('web')], volumes: [] };
}

function converged(at: number, previous = new Map<string, StackStatus>(), obs = observed()): Map<string, StackStatus> {
  return stackStatusesAfter(previous, { kind: 'converged', desired, observed: obs }, at);
}

describe('stack status', () => {
  it('renders the design layout for a converged stack', () => {
    const web = converged(T0).get('web');
    expect(web).toBeDefined();
    expect(renderStackStatus(web as StackStatus)).toBe(`stack: web
lastAppliedRevision: ${REV_A}
lastAttemptedRevision: ${REV_A}
conditions:
  - { type: Ready, status: "True", reason: Converged, message: 1/1 services ready, lastTransitionTime: 2026-11-25T10:00:00Z }
services:
  api: { image: example/api:1.4.1, specHash: ${api.specHash}, replicas: { desired: 2, ready: 2 } }
`);
  });

  it('keeps lastTransitionTime while a condition holds, so an idle pass renders the same bytes', () => {
    const first = converged(T0);
    const second = converged(T1, first);
    expect(renderStackStatus(second.get('web') as StackStatus)).toBe(renderStackStatus(first.get('web') as StackStatus));
  });

  it('moves lastTransitionTime when a condition flips', () => {
    const first = converged(T0);
    const exited = converged(T1, first, observed([observedReplica(api, 1), observedReplica(api, 2, { state: 'exited' })]));
    const web = exited.get('web') as StackStatus;
    expect(web.conditions).toEqual([
      { type: 'Ready', status: 'False', reason: 'ReplicasFailing', message: '0/1 services ready', lastTransitionTime: '2026-11-25T10:05:00Z' },
      { type: 'Degraded', status: 'True', reason: 'ReplicasFailing', message: 'web-api-2 exited', lastTransitionTime: '2026-11-25T10:05:00Z' },
    ]);
    expect(web.services['api']?.replicas).toEqual({ desired: 2, ready: 1 });
  });

  it('says Reconciling while replicas start, counting only healthy ones as ready', () => {
    const starting = observedReplica(api, 2);
    const web = converged(T0, new Map(), observed([observedReplica(api, 1), { ...starting, health: 'starting' }])).get('web') as StackStatus;
    expect(web.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'Progressing'],
      ['Reconciling', 'True', 'Progressing'],
    ]);
    expect(web.conditions[1]?.message).toBe('waiting for replicas: api 1/2');
  });

  it('marks every known stack Stalled on an invalid commit and keeps the last applied revision', () => {
    const first = converged(T0);
    const problem = 'stacks/web.yaml:4:5 services.api.imagee: unknown key (did you mean "image"?)';
    const after = stackStatusesAfter(first, { kind: 'invalid', revision: REV_B, problems: [problem] }, T1).get('web') as StackStatus;
    expect(after.lastAppliedRevision).toBe(REV_A);
    expect(after.lastAttemptedRevision).toBe(REV_B);
    expect(after.conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'ManifestsInvalid', message: problem });
    expect(after.services).toEqual(first.get('web')?.services);
  });

  it('says RolledBack for a stack whose failed revision was auto-reverted', () => {
    const failures = [{ stack: 'web', message: 'create web-api-1: No such image' }];
    const after = stackStatusesAfter(converged(T0), { kind: 'apply-failed', desired: desiredState(REV_B, desired.stacks.slice()), observed: observed([]), failures, revert: 'c'.repeat(40) }, T1).get('web') as StackStatus;
    expect(after.lastAppliedRevision).toBe(REV_A);
    expect(after.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ reason: 'RolledBack', message: `${REV_B.slice(0, 7)} failed to apply; reverted by ccccccc` });
  });

  it('drops stacks that left Git', () => {
    const empty = desiredState(REV_B, []);
    expect(stackStatusesAfter(converged(T0), { kind: 'converged', desired: empty, observed: observed([]) }, T1).size).toBe(0);
  });

  it('reads back what it wrote', () => {
    const web = converged(T0).get('web') as StackStatus;
    expect(parseStackStatus(renderStackStatus(web))).toEqual(web);
    expect(parseStackStatus('not: [a status')).toBeUndefined();
  });
});

describe('operator status', () => {
  it('keeps the sync time out of the committed file', () => {
    const op = operatorStatusAfter({ instance: 'prod', version: '0.1.0', backend: 'docker' }, { kind: 'error', revision: undefined, reason: 'GitFetchFailed', message: 'cannot fetch x' });
    expect(renderOperatorStatus(op)).toBe('instance: prod\nversion: 0.1.0\nbackend: docker\nlastError: cannot fetch x\n');
  });
});

describe('auto-revert rule', () => {
  const previous = converged(T0);
  it('reverts a failed revision of a stack that ran an earlier one', () => {
    expect(autoRevertCandidate(REV_B, [{ stack: 'web' }], previous, new Set())).toBe(true);
  });
  it('never reverts a first deploy, the same revision twice, or the revision that runs', () => {
    expect(autoRevertCandidate(REV_B, [{ stack: 'shop' }], previous, new Set())).toBe(false);
    expect(autoRevertCandidate(REV_B, [{ stack: 'web' }], previous, new Set([REV_B]))).toBe(false);
    expect(autoRevertCandidate(REV_A, [{ stack: 'web' }], previous, new Set())).toBe(false);
  });
  it('finds the failing stack from the executor (ApplyError carries stack and revision)', () => {
    const err = new ApplyError([{ operation: 'create web-api-1', error: new Error('x'), stack: 'web' }], REV_B);
    expect(autoRevertCandidate(err.revision ?? '', err.failures, previous, new Set())).toBe(true);
  });
});

describe('status commit message', () => {
  const stacks = converged(T0);
  it('names one stack in the subject, with trailers', () => {
    expect(commitMessage(['status/_operator.yaml', 'status/web.yaml'], stacks, REV_A, 'prod')).toBe(
      `status(web): Ready at ${REV_A.slice(0, 7)}\n\nCapstan-Revision: ${REV_A}\nCapstan-Instance: prod`,
    );
  });
  it('counts several stacks in the subject and lists them in the body', () => {
    expect(commitMessage(['status/shop.yaml', 'status/web.yaml'], stacks, REV_A, 'prod')).toBe(
      `status: 2 stacks at ${REV_A.slice(0, 7)}\n\n- shop: Removed\n- web: Ready\n\nCapstan-Revision: ${REV_A}\nCapstan-Instance: prod`,
    );
  });
});
