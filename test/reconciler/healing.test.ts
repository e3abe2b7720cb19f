// The Healer between passes, with hand-built snapshots and plans and an
// injected clock (the real daemon is in test/integration/healing.test.ts):
// heals are timed from the engine's death event to the replacement seen
// ready and counted by reason even when another operation of the pass
// failed; a container the plan itself replaces is a deploy, not a heal; and
// crash loops are told to status with their exit code and log lines.

import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ApplyError } from '../../src/errors.js';
import { HealMetrics } from '../../src/health/metrics.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { ObservedContainer } from '../../src/observed/model.js';
import type { Operation } from '../../src/plan/operations.js';
import { describeOperation } from '../../src/plan/render.js';
import { Healer } from '../../src/reconciler/healing.js';
import type { PassResult } from '../../src/reconciler/pass.js';
import { isReadyReplica } from '../../src/status/service-health.js';
import { REV_A, desiredService, desiredStack, desiredState, observedReplica } from '../helpers/specs.js';

const web = desiredService('web', 'api', { replicas: 2 });
const T0 = Date.parse('2026-11-25T10:00:00Z');
const healers: Healer[] = [];

function setup() {
  const registry = new Registry();
  let clock = T0;
  const logReads: string[] = [];
  const healer = new Healer({
    logger: silentLogger(),
    now: () => clock,
    trigger: () => undefined,
    logTail: async (id) => (logReads.push(id), [`log of ${id}`]),
    metrics: new HealMetrics(registry),
    isReady: isReadyReplica,
  });
  healers.push(healer);
  return { healer, registry, logReads, tick: (ms: number) => (clock += ms), now: () => clock };
}

function planned(containers: readonly ObservedContainer[], operations: Operation[] = []): Omit<PassResult, 'applied'> {
  return {
    revision: REV_A,
    plan: { revision: REV_A, instance: 'test', operations, services: [], heldBack: [], heldRollouts: [] },
    desired: desiredState(REV_A, [desiredStack('web', [web])]),
    observed: { instance: 'test', containers, networks: [], volumes: [] },
  };
}

/** One pass as the daemon runs it: snapshot → planned → (apply) → afterPass. */
function pass(healer: Healer, containers: readonly ObservedContainer[], operations: Operation[], result: (p: Omit<PassResult, 'applied'>) => PassResult | Error): void {
  const p = planned(containers, operations);
  healer.input(p.observed);
  healer.planned(p);
  healer.afterPass(result(p));
}

const applied = (n: number) => (p: Omit<PassResult, 'applied'>): PassResult => ({ ...p, applied: n });

afterEach(() => {
  for (const h of healers.splice(0)) h.stop();
});

describe('Healer', () => {
  it('times a heal from the death event to the replacement seen ready, and counts it by reason even when another operation failed', async () => {
    const { healer, registry, tick } = setup();
    const one = observedReplica(web, 1);
    healer.noteEvent('destroy', 'web-api-2', T0, 'gone-id');
    tick(300);
    const create: Operation = { kind: 'create-container', stack: 'web', service: web, number: 2, name: 'web-api-2', cause: 'replica 2 is missing', phase: 2 };
    const other: Operation = { kind: 'create-container', stack: 'web', service: web, number: 3, name: 'web-other-1', cause: 'new service, 1 replica', phase: 2 };
    pass(healer, [one], [create, other], () => new ApplyError([{ operation: describeOperation(other), error: new Error('name taken'), stack: 'web' }], REV_A));
    tick(200);
    // The next pass sees the replacement running: the heal ends there.
    pass(healer, [one, observedReplica(web, 2)], [], applied(0));
    const text = await registry.metrics();
    expect(text).toContain('capstan_replica_restarts_total{stack="web",service="api",reason="missing"} 1');
    expect(text).toContain('capstan_heal_duration_seconds_sum 0.5');
    expect(text).toContain('capstan_heal_duration_seconds_count 1');
  });

  it('does not count a replica the plan itself replaced as a heal', async () => {
    const { healer, registry, tick, now } = setup();
    const old = observedReplica(web, 1);
    const recreate: Operation = { kind: 'recreate-container', stack: 'web', service: web, number: 1, name: 'web-api-1', containerId: old.id, cause: 'image changed', phase: 2, update: { direction: 'forward', previous: undefined, twinId: undefined } };
    pass(healer, [old], [recreate], applied(1));
    // The engine reports the old container's end after the recreate.
    for (const action of ['kill', 'die', 'stop', 'destroy']) healer.noteEvent(action, 'web-api-1', T0, old.id);
    tick(1000);
    const replaced = observedReplica(web, 1);
    pass(healer, [replaced], [], applied(0));
    let text = await registry.metrics();
    expect(text).not.toContain('capstan_replica_restarts_total{');
    expect(text).toContain('capstan_heal_duration_seconds_count 0');
    // A real death later is timed from its own event, not from the deploy's.
    tick(60_000);
    healer.noteEvent('die', 'web-api-1', now(), replaced.id);
    tick(300);
    const dead = { ...replaced, state: 'exited' as const, lastRun: { startedAt: now() - 61_000, finishedAt: now() - 300, exitCode: 137, oomKilled: false } };
    pass(healer, [dead], [{ kind: 'start-container', stack: 'web', service: 'api', name: 'web-api-1', containerId: replaced.id, cause: 'drift: container web-api-1 was stopped', phase: 2 }], applied(1));
    pass(healer, [replaced], [], applied(0));
    text = await registry.metrics();
    expect(text).toContain('capstan_replica_restarts_total{stack="web",service="api",reason="crashed"} 1');
    expect(text).toContain('capstan_heal_duration_seconds_sum 0.3');
  });

  it('tells status about a crash loop from the second short run in a row, until the replica has run for the reset window', async () => {
    const { healer, logReads, tick, now } = setup();
    const exited = (run: number): ObservedContainer => ({ ...observedReplica(web, 1), id: 'c-loop', state: 'exited', lastRun: { startedAt: now() - 500, finishedAt: now() - run, exitCode: 3, oomKilled: false } });
    pass(healer, [exited(100)], [], applied(0));
    expect((await healer.crashLoops()).size).toBe(0);
    tick(2000);
    pass(healer, [exited(50)], [], applied(0));
    expect(await healer.crashLoops()).toEqual(new Map([['web/api', { replica: 'web-api-1', crashes: 2, exitCode: 3, logLines: ['log of c-loop'], nextRestartAt: now() - 50 + 1000 }]]));
    // Restarted and running: still a loop (no next restart), and the log of that run is not read again.
    const running = { ...observedReplica(web, 1), id: 'c-loop' };
    pass(healer, [running], [], applied(0));
    expect((await healer.crashLoops()).get('web/api')).toMatchObject({ crashes: 2, nextRestartAt: undefined });
    expect(logReads).toEqual(['c-loop']);
    tick(60_000);
    pass(healer, [running], [], applied(0));
    expect((await healer.crashLoops()).size).toBe(0);
  });
});
