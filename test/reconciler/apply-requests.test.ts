import { describe, expect, it } from 'vitest';
import { DockerUnavailableError } from '../../src/errors.js';
import { applyAnswer, ApplyRequests } from '../../src/reconciler/apply-requests.js';
import { applyTarget, targetMismatch } from '../../src/reconciler/apply-target.js';
import type { LaneOutcome } from '../../src/reconciler/stack-pass.js';

const B = 'b'.repeat(40);
const lane = (o: Partial<LaneOutcome>): LaneOutcome => ({
  kind: 'converged', reason: 'Converged', stack: 'web', revision: B, planned: 0, lines: [], operations: [], applied: 0, failures: [], progress: [], requeueAt: undefined, health: undefined, invalid: undefined, ...o,
});
const never = new AbortController().signal;

describe('a daemon asked to apply waits for the right passes', () => {
  it('counts only passes that began after the request, takes the first one\'s plan and every one\'s work, and stops where a one-shot apply stops', async () => {
    const r = new ApplyRequests();
    const inFlight = r.passBegins();
    const opened = r.opened();
    const result = r.wait(['web'], opened, never);
    // A pass that began before the request (an older view) ends: not this apply's.
    r.passEnded(inFlight, lane({ lines: ['old plan'], applied: 9 }));
    const first = r.passBegins();
    r.passEnded(first, lane({ kind: 'progressing', reason: 'RolloutProgressing', lines: ['recreate web-app-1: image a → b'], applied: 1 }));
    const second = r.passBegins();
    r.passEnded(second, lane({ kind: 'progressing', reason: 'RolloutProgressing', lines: ['step 2'], applied: 1 }));
    const third = r.passBegins();
    r.passEnded(third, lane({ kind: 'progressing', reason: 'AwaitingReadiness', lines: [], applied: 0 }));
    expect(await result).toEqual([expect.objectContaining({ stack: 'web', lines: ['recreate web-app-1: image a → b'], applied: 2 })]);
  });

  it('a pass the new commit woke, ended before the request waits, still counts; one from before the commit does not', async () => {
    const r = new ApplyRequests();
    const opened = r.opened();
    const before = r.passBegins();
    // The request's fetch takes in a commit and wakes the lane, whose pass ends before the request waits.
    r.gitChanged();
    const woken = r.passBegins();
    r.passEnded(before, lane({ stack: 'api', lines: ['stale'] }));
    r.passEnded(woken, lane({ lines: ['scale web app: 1 → 3'], applied: 2 }));
    const result = r.wait(['web', 'api'], opened, never);
    const api = r.passBegins();
    r.passEnded(api, lane({ stack: 'api' }));
    const done = await result;
    expect(done.map((d) => ('lines' in d ? [d.stack, d.lines] : [d.stack]))).toEqual([['api', []], ['web', ['scale web app: 1 → 3']]]);
  });

  it('a pass that throws ends its stack as a failure; the daemon stopping ends the wait with the stacks it has not finished', async () => {
    const r = new ApplyRequests();
    const stop = new AbortController();
    const result = r.wait(['web', 'api'], r.opened(), stop.signal);
    r.passFailed(r.passBegins(), 'web', new DockerUnavailableError('unix:///var/run/docker.sock', new Error('ECONNREFUSED')));
    stop.abort();
    const done = await result;
    const answer = applyAnswer('prod', B, ['api', 'web'], done, [], []);
    expect(answer.failures).toEqual([expect.objectContaining({ stack: 'web', operation: 'pass of web', code: 'E_DOCKER_UNAVAILABLE' })]);
    expect(answer.unfinished).toEqual(['api']);
  });
});

describe('the answer', () => {
  it('carries what `capstan apply` prints: plan lines, work done, invalid lines, held windows and canaries waiting', () => {
    const done = [
      { stack: 'api', last: lane({ stack: 'api', kind: 'failed', reason: 'ManifestsInvalid', invalid: { revision: B, problems: ['stacks/api.yaml:3:5 services.x.bogus: unknown key'] } }), lines: [], applied: 0 },
      { stack: 'web', last: lane({ kind: 'held', reason: 'SyncWindowClosed', planned: 2 }), lines: ['create web-app-1', 'create web-app-2'], applied: 0 },
    ];
    const answer = applyAnswer('prod', B, ['api', 'web'], done, ['deny 0 9-17 * * 1-5'], ['web/app']);
    expect(answer).toMatchObject({ lines: ['create web-app-1', 'create web-app-2'], applied: 0, invalid: ['stacks/api.yaml:3:5 services.x.bogus: unknown key'], windowHeld: { changes: 2, windows: ['deny 0 9-17 * * 1-5'] }, held: [], unfinished: [] });
  });
});

describe('the target a command names', () => {
  it('compares repositories without credentials, `.git` or a trailing slash, and local paths made absolute', () => {
    const own = applyTarget({ instance: 'prod', repo: 'https://git.example/acme/infra.git', branch: 'main', path: 'stacks/', backend: 'docker' }, '/srv');
    expect(targetMismatch(own, applyTarget({ instance: 'prod', repo: 'https://bot:s3cret@git.example/acme/infra/', branch: 'main', path: './stacks', backend: 'docker' }, '/home'))).toBeUndefined();
    expect(targetMismatch(own, applyTarget({ instance: 'prod', repo: 'https://git.example/acme/infra', branch: 'release', path: 'stacks', backend: 'docker' }, '/srv'))).toBe('the daemon follows branch main, not release');
    const local = applyTarget({ instance: 'prod', repo: '../infra', branch: 'main', path: 'stacks', backend: 'docker' }, '/srv/ops');
    expect(local.repo).toBe('/srv/infra');
    expect(targetMismatch(local, applyTarget({ ...local, repo: 'file:///srv/infra' }, '/'))).toBeUndefined();
  });
});

describe('many requests to one daemon', () => {
  it('leave no listener behind on the daemon\'s stop signal', async () => {
    const r = new ApplyRequests();
    const stop = new AbortController();
    let listeners = 0;
    const add = stop.signal.addEventListener.bind(stop.signal);
    const remove = stop.signal.removeEventListener.bind(stop.signal);
    stop.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => { listeners++; add(...args); }) as AbortSignal['addEventListener'];
    stop.signal.removeEventListener = ((...args: Parameters<AbortSignal['removeEventListener']>) => { listeners--; remove(...args); }) as AbortSignal['removeEventListener'];
    for (let i = 0; i < 20; i++) {
      const done = r.wait(['web'], r.opened(), stop.signal);
      r.passEnded(r.passBegins(), lane({}));
      await done;
    }
    expect(listeners).toBe(0);
  });
});
