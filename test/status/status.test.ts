// The pure status model: conditions from a pass, transition times kept while
// a condition holds, the rendered file, what health checks add (crash loops,
// failing probes) and that it stays quiet while they go on, the auto-revert
// rule and the commit message. Hand-built desired/observed values; no Git, no
// Docker.

import { describe, expect, it } from 'vitest';
import type { ObservedState } from '../../src/observed/model.js';
import type { DesiredState } from '../../src/desired/model.js';
import { nextStackStatus, servicesOf, type StackOutcome, type StackStatus } from '../../src/status/model.js';
import { parseStackStatus, renderOperatorStatus, renderStackStatus } from '../../src/status/render.js';
import type { ServiceHealth } from '../../src/status/service-health.js';
import { autoRevertCandidate, commitMessage } from '../../src/status/reporter.js';
import { assessServices, type CrashLoop, type HealthFacts } from '../../src/status/service-health.js';
import type { ReplicaHealth } from '../../src/health/replica-health.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedNetwork, observedReplica } from '../helpers/specs.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');
const T1 = Date.parse('2026-11-25T10:05:00Z');

const api = desiredService('web', 'api', { replicas: 2 });
const desired = desiredState(REV_A, [desiredStack('web', [api])]);

function observed(containers = [observedReplica(api, 1), observedReplica(api, 2)]): ObservedState {
  return { instance: 'test', containers, networks: [observedNetwork('web')], volumes: [] };
}

/** What a lane pass of each stack of `state` hands to the model (reconciler/stack-pass.ts does the same per stack). */
function after(previous: ReadonlyMap<string, StackStatus>, state: DesiredState, obs: ObservedState, health: readonly ServiceHealth[], outcome: StackOutcome, at: number, opts: { keepServices?: boolean } = {}): Map<string, StackStatus> {
  const next = new Map<string, StackStatus>();
  for (const stack of state.stacks) {
    const specs = new Map(stack.services.map((s) => [s.name, { image: s.spec.image, specHash: s.specHash }]));
    next.set(stack.name, nextStackStatus(previous.get(stack.name), {
      stack: stack.name, revision: state.revision, outcome, services: opts.keepServices === true ? undefined : servicesOf(stack.name, health, specs),
      containers: obs.containers.filter((c) => c.stack === stack.name), converged: outcome.kind === 'applied',
    }, at));
  }
  return next;
}

function converged(at: number, previous = new Map<string, StackStatus>(), obs = observed(), facts?: HealthFacts, state = desired): Map<string, StackStatus> {
  return after(previous, state, obs, assessServices(state, obs, facts, at), { kind: 'applied' }, at);
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
  api: { image: example/api:1.4.1, specHash: ${api.specHash}, replicas: { desired: 2, running: 2, ready: 2 } }
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
    expect(web.services['api']?.replicas).toEqual({ desired: 2, running: 1, ready: 1 });
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
    const invalid = after(first, desiredState(REV_B, desired.stacks.slice()), observed(), [], { kind: 'invalid', problems: [problem] }, T1, { keepServices: true }).get('web') as StackStatus;
    expect(invalid.lastAppliedRevision).toBe(REV_A);
    expect(invalid.lastAttemptedRevision).toBe(REV_B);
    expect(invalid.conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True', reason: 'ManifestsInvalid', message: problem });
    expect(invalid.services).toEqual(first.get('web')?.services);
  });

  it('says RolledBack for a stack whose failed revision was auto-reverted', () => {
    const failures = ['create web-api-1: No such image'];
    const reverted = after(converged(T0), desiredState(REV_B, desired.stacks.slice()), observed([]), [], { kind: 'rolled-back', failures, revert: 'c'.repeat(40) }, T1).get('web') as StackStatus;
    expect(reverted.lastAppliedRevision).toBe(REV_A);
    expect(reverted.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ reason: 'RolledBack', message: `${REV_B.slice(0, 7)} failed to apply; reverted by ccccccc` });
  });

  it('moves lastAppliedRevision only when the stack converged on the revision', () => {
    const first = converged(T0);
    const changed = desiredState(REV_B, desired.stacks.slice());
    const input = { stack: 'web', revision: REV_B, outcome: { kind: 'applied' } as const, services: undefined, containers: [] };
    const progressing = nextStackStatus(first.get('web'), { ...input, converged: false }, T1);
    expect([progressing.lastAppliedRevision, progressing.lastAttemptedRevision]).toEqual([REV_A, REV_B]);
    expect(nextStackStatus(progressing, { ...input, converged: true }, T1).lastAppliedRevision).toBe(changed.revision);
  });

  it('reads back what it wrote', () => {
    const web = converged(T0).get('web') as StackStatus;
    expect(parseStackStatus(renderStackStatus(web))).toEqual(web);
    expect(parseStackStatus('not: [a status')).toBeUndefined();
  });

  it('reads a file written before running replicas were reported, taking the ready count', () => {
    const old = `stack: web\nlastAppliedRevision: ${REV_A}\nlastAttemptedRevision: ${REV_A}\nconditions: []\nservices:\n  api: { image: x, specHash: h, replicas: { desired: 2, ready: 1 } }\n`;
    expect(parseStackStatus(old)?.services['api']?.replicas).toEqual({ desired: 2, running: 1, ready: 1 });
  });

  it('holds the services as they were while a closed sync window holds changes', () => {
    const first = converged(T0);
    const changed = desiredState(REV_B, [desiredStack('web', [desiredService('web', 'api', { replicas: 2, image: 'example/api:1.4.2' })])]);
    const held = after(first, changed, observed(), assessServices(changed, observed(), undefined, T1), { kind: 'held', waiting: 2 }, T1, { keepServices: true }).get('web') as StackStatus;
    expect(held.conditions.map((c) => [c.type, c.reason, c.message])).toEqual([
      ['Ready', 'SyncWindowClosed', 'changes wait for a sync window to open'],
      ['Reconciling', 'SyncWindowClosed', '2 changes wait'],
    ]);
    expect(held.lastAppliedRevision).toBe(REV_A);
    expect(held.lastAttemptedRevision).toBe(REV_B);
    expect(held.services).toEqual(first.get('web')?.services);
  });
});

describe('health in status', () => {
  const probe = { check: { kind: 'http' as const, path: '/healthz', port: 8080, host: undefined }, intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, successThreshold: 1, failureThreshold: 3 };
  const probed = desiredService('web', 'api', { replicas: 2, capstan: { strategy: 'rolling', progressDeadlineMs: 60_000, probe, routes: [] } });
  const probedState = desiredState(REV_A, [desiredStack('web', [probed])]);
  const one = observedReplica(probed, 1);
  const two = observedReplica(probed, 2);
  const health = (state: ReplicaHealth['state'], lastOutput: string, failures = 0): { check: typeof probe.check; health: ReplicaHealth } => ({
    check: probe.check, health: { state, startedAt: T0, successes: 0, failures, wasReady: state !== 'starting', lastOutput, lastProbeAt: T0 + failures },
  });
  const facts = (probes: [string, ReturnType<typeof health>][], loops: [string, CrashLoop][] = []): HealthFacts => ({ probes: new Map(probes), crashLoops: new Map(loops) });
  const web = (at: number, f: HealthFacts | undefined, obs = observed([one, two]), previous = new Map<string, StackStatus>()): StackStatus =>
    converged(at, previous, obs, f, probedState).get('web') as StackStatus;

  it('names the failing probe and its output for an unready replica, and says Degraded/Unready', () => {
    const status = web(T0, facts([[one.id, health('ready', 'HTTP 200')], [two.id, health('unready', 'HTTP 404', 3)]]));
    expect(status.services['api']).toMatchObject({ replicas: { desired: 2, running: 2, ready: 1 }, unhealthy: [{ replica: 'web-api-2', probe: 'http GET :8080/healthz', output: 'HTTP 404' }] });
    expect(status.conditions.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ['Ready', 'False', 'Unready', '0/1 services ready'],
      ['Degraded', 'True', 'Unready', 'web-api-2 fails http GET :8080/healthz: HTTP 404'],
    ]);
    expect(renderStackStatus(status)).toContain(`  api:
    image: example/api:1.4.1
    specHash: ${probed.specHash}
    replicas: { desired: 2, running: 2, ready: 1 }
    unhealthy:
      - { replica: web-api-2, probe: http GET :8080/healthz, output: HTTP 404 }
`);
    expect(parseStackStatus(renderStackStatus(status))).toEqual(status);
  });

  it('counts a replica whose probe has not passed yet as not ready, without calling it unhealthy', () => {
    const status = web(T0, facts([[one.id, health('ready', 'HTTP 200')], [two.id, health('starting', 'connect ECONNREFUSED', 1)]]));
    expect(status.services['api']?.replicas).toEqual({ desired: 2, running: 2, ready: 1 });
    expect(status.services['api']?.unhealthy).toBeUndefined();
    expect(status.conditions.map((c) => c.reason)).toEqual(['Progressing', 'Progressing']);
  });

  it('counts from the snapshot alone without the daemon (a one-shot apply runs no probes)', () => {
    expect(web(T0, undefined).services['api']?.replicas).toEqual({ desired: 2, running: 2, ready: 2 });
  });

  it("reports a replica Docker's healthcheck calls unhealthy with the check and its output", () => {
    const checked = desiredService('web', 'api', { replicas: 1, healthcheck: { test: ['CMD', 'wget', '-qO-', 'http://localhost/'], intervalMs: undefined, timeoutMs: undefined, retries: undefined, startPeriodMs: undefined, startIntervalMs: undefined } });
    const sick = { ...observedReplica(checked, 1), health: 'unhealthy' as const, healthcheck: { exitCode: 1, output: 'wget: server returned error: HTTP/1.1 500' } };
    const status = converged(T0, new Map(), observed([sick]), undefined, desiredState(REV_A, [desiredStack('web', [checked])])).get('web') as StackStatus;
    expect(status.services['api']?.unhealthy).toEqual([{ replica: 'web-api-1', probe: 'healthcheck CMD wget -qO- http://localhost/', output: 'wget: server returned error: HTTP/1.1 500' }]);
    expect(status.conditions[1]).toMatchObject({ type: 'Degraded', reason: 'Unready' });
  });

  it('says Degraded/CrashLoop with the exit code and log lines, and stays byte-identical while the loop goes on', () => {
    const exited = { ...two, state: 'exited' as const };
    const loop = (crashes: number, lines: string[], nextRestartAt: number | undefined): CrashLoop => ({ replica: 'web-api-2', crashes, exitCode: 3, logLines: lines, nextRestartAt });
    const first = web(T0, facts([[one.id, health('ready', 'HTTP 200')]], [['web/api', loop(2, ['boom 1'], T0 + 1000)]]), observed([one, exited]));
    expect(first.conditions.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ['Ready', 'False', 'CrashLoop', '0/1 services ready'],
      ['Degraded', 'True', 'CrashLoop', 'web-api-2 is crash-looping (exit code 3)'],
    ]);
    expect(first.services['api']).toMatchObject({ replicas: { desired: 2, running: 1, ready: 1 }, crashLoop: { replica: 'web-api-2', exitCode: 3, lastLogLines: ['boom 1'] } });
    const text = renderStackStatus(first);
    expect(text).toContain(`    crashLoop:
      replica: web-api-2
      exitCode: 3
      lastLogLines:
        - boom 1
`);
    // Restarted and crashed again: new log lines, more crashes, another countdown; the replica runs for a moment in between.
    const running = web(T1, facts([[one.id, health('ready', 'HTTP 200')], [two.id, health('starting', '')]], [['web/api', loop(3, ['boom 2'], undefined)]]), observed([one, two]), new Map([['web', first]]));
    const again = web(T1 + 5000, facts([[one.id, health('ready', 'HTTP 200')]], [['web/api', loop(4, ['boom 3'], T1 + 9000)]]), observed([one, exited]), new Map([['web', running]]));
    expect(renderStackStatus(running)).toBe(text);
    expect(renderStackStatus(again)).toBe(text);
    expect(parseStackStatus(text)).toEqual(first);
  });

  it('says Degraded/CrashLoop next to a failed apply, since what runs can crash-loop meanwhile', () => {
    const obs = observed([one, { ...two, state: 'exited' }]);
    const f = facts([[one.id, health('ready', 'HTTP 200')]], [['web/api', { replica: 'web-api-2', crashes: 3, exitCode: 1, logLines: [], nextRestartAt: T0 + 4000 }]]);
    const status = after(new Map(), probedState, obs, assessServices(probedState, obs, f, T0), { kind: 'apply-failed', failures: ['create web-db-1: name taken'] }, T0).get('web') as StackStatus;
    expect(status.conditions.map((c) => [c.type, c.reason])).toEqual([['Ready', 'ApplyFailed'], ['Reconciling', 'RetryingApply'], ['Degraded', 'CrashLoop']]);
  });

  it('keeps the volatile details for the API: crash count, next restart, newest log lines', () => {
    const [h] = assessServices(probedState, observed([one, { ...two, state: 'exited' }]), facts([[one.id, health('ready', 'HTTP 200')]], [['web/api', { replica: 'web-api-2', crashes: 4, exitCode: 3, logLines: ['boom 4'], nextRestartAt: T0 + 12_000 }]]), T0);
    expect(h).toMatchObject({ status: 'Degraded', reason: 'CrashLoop', crashLoop: { lastLogLines: ['boom 4'] } });
    expect(h?.live).toEqual({ message: 'web-api-2 is crash-looping (4 crashes in a row, exit code 3); next restart in 12 s', crashes: 4, nextRestartAt: '2026-11-25T10:00:12.000Z', probeFailures: {} });
  });
});

describe('operator status', () => {
  it('keeps the sync time out of the committed file', () => {
    const op = { instance: 'prod', version: '0.1.0', backend: 'docker', lastError: 'cannot fetch x' };
    expect(renderOperatorStatus(op)).toBe('instance: prod\nversion: 0.1.0\nbackend: docker\nlastError: cannot fetch x\n');
  });
});

describe('auto-revert rule', () => {
  const previous = converged(T0).get('web');
  it('reverts a failed revision of a stack that ran an earlier one', () => {
    expect(autoRevertCandidate(REV_B, previous, new Set())).toBe(true);
  });
  it('never reverts a first deploy, the same revision twice, or the revision that runs', () => {
    expect(autoRevertCandidate(REV_B, undefined, new Set())).toBe(false);
    expect(autoRevertCandidate(REV_B, previous, new Set([REV_B]))).toBe(false);
    expect(autoRevertCandidate(REV_A, previous, new Set())).toBe(false);
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
