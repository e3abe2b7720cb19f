// The Healer between lane passes, with hand-built snapshots and plans and an
// injected clock (the real daemon is in test/integration/healing.test.ts):
// heals are timed from the engine's death event to the replacement seen
// ready and counted by each operation's reason (never its words), only for
// operations that were done; a container removed on purpose is a deploy, not
// a heal; each stack's knowledge is its own; crash loops are told to status
// with their exit code and log lines; and the lane is told when to look again.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HealMetrics } from '../../src/health/metrics.js';
import { isReady } from '../../src/health/readiness.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { ObservedContainer } from '../../src/observed/model.js';
import type { Operation, Plan } from '../../src/plan/operations.js';
import { Healer } from '../../src/reconciler/healing.js';
import { REV_A, desiredService, observedReplica } from '../helpers/specs.js';

const web = desiredService('web', 'api', { replicas: 2 });
const T0 = Date.parse('2026-11-25T10:00:00Z');

function setup() {
  const registry = new Registry();
  let clock = T0;
  const logReads: string[] = [];
  const healer = new Healer({
    logger: silentLogger(),
    now: () => clock,
    logTail: async (id) => (logReads.push(id), [`log of ${id}`]),
    metrics: new HealMetrics(registry),
    isReady: (c) => isReady(c, undefined),
  });
  return { healer, registry, logReads, tick: (ms: number) => (clock += ms), now: () => clock };
}

function plan(operations: Operation[], heldBack: Plan['heldBack'] = []): Plan {
  return { revision: REV_A, instance: 'test', operations, services: [], heldBack, heldRollouts: [] };
}

/** One lane pass as the daemon runs it: snapshot → input → planned → (apply) → afterPass with the ids done. */
function pass(healer: Healer, containers: readonly ObservedContainer[], operations: Operation[] = [], done: readonly string[] = operations.map((o) => o.id), stack = 'web'): number | undefined {
  const observed = { instance: 'test', containers, networks: [], volumes: [] };
  healer.input(stack, observed);
  const wake = healer.planned(stack, { plan: plan(operations), observed });
  healer.afterPass({ plan: plan(operations), observed }, new Set(done));
  return wake;
}

const create = (number: number, reason: Operation['reason'], cause: string): Operation => ({ id: `create-container:web/web-api-${number}`, kind: 'create-container', stack: 'web', service: web, number, name: `web-api-${number}`, reason, cause, phase: 2 });

describe('Healer', () => {
  it('times a heal from the death event to the replacement seen ready, counting only operations that were done, by reason', async () => {
    const { healer, registry, tick } = setup();
    const one = observedReplica(web, 1);
    healer.noteEvent('destroy', 'web', 'web-api-2', T0, 'gone-id');
    tick(300);
    // The words of the cause do not matter; the reason does.
    const missing = create(2, 'replica-missing', 'whatever the renderer says');
    const failed = create(3, 'scale-up', 'scale up 2 → 3');
    pass(healer, [one], [missing, failed], [missing.id]);
    tick(200);
    pass(healer, [one, observedReplica(web, 2)]);
    const text = await registry.metrics();
    expect(text).toContain('capstan_replica_restarts_total{stack="web",service="api",reason="missing"} 1');
    expect(text).not.toContain('reason="scale-up"');
    expect(text).toContain('capstan_heal_duration_seconds_sum 0.5');
    expect(text).toContain('capstan_heal_duration_seconds_count 1');
  });

  it('does not count a replica removed on purpose as a heal, and times a later real death from its own event', async () => {
    const { healer, registry, tick, now } = setup();
    const old = observedReplica(web, 1);
    const recreate: Operation = { id: 'recreate-container:web/web-api-1', kind: 'recreate-container', stack: 'web', service: web, number: 1, name: 'web-api-1', containerId: old.id, reason: 'spec-changed', cause: 'image changed', phase: 2, update: { direction: 'forward', previous: undefined, twinId: undefined } };
    pass(healer, [old], [recreate]);
    for (const action of ['kill', 'die', 'stop', 'destroy']) healer.noteEvent(action, 'web', 'web-api-1', T0, old.id);
    // A rollout's own removal of a twin, told before it happens.
    healer.noteRemoving('twin-id');
    for (const action of ['die', 'destroy']) healer.noteEvent(action, 'web', 'web-api-2-next', T0, 'twin-id');
    tick(1000);
    const replaced = observedReplica(web, 1);
    pass(healer, [replaced]);
    let text = await registry.metrics();
    expect(text).not.toContain('capstan_replica_restarts_total{');
    expect(text).toContain('capstan_heal_duration_seconds_count 0');
    tick(60_000);
    healer.noteEvent('die', 'web', 'web-api-1', now(), replaced.id);
    tick(300);
    const dead = { ...replaced, state: 'exited' as const, lastRun: { startedAt: now() - 61_000, finishedAt: now() - 300, exitCode: 137, oomKilled: false } };
    pass(healer, [dead], [{ id: 'start-container:web/web-api-1', kind: 'start-container', stack: 'web', service: 'api', name: 'web-api-1', containerId: replaced.id, reason: 'crashed', cause: 'drift', phase: 2 }]);
    pass(healer, [replaced]);
    text = await registry.metrics();
    expect(text).toContain('capstan_replica_restarts_total{stack="web",service="api",reason="crashed"} 1');
    expect(text).toContain('capstan_heal_duration_seconds_sum 0.3');
  });

  it('keeps each stack\'s history to itself: one lane\'s snapshot never drops another stack\'s runs', async () => {
    const { healer, tick, now } = setup();
    const looping = (id: string, run: number): ObservedContainer => ({ ...observedReplica(web, 1), id, state: 'exited', lastRun: { startedAt: now() - 500, finishedAt: now() - run, exitCode: 3, oomKilled: false } });
    pass(healer, [looping('c-web', 100)]);
    // The other stack's lane runs in between with containers of its own.
    pass(healer, [{ ...observedReplica(desiredService('db', 'pg'), 1), id: 'c-db' }], [], [], 'db');
    tick(2000);
    pass(healer, [looping('c-web', 50)]);
    expect((await healer.crashLoops('web')).get('web/api')?.crashes).toBe(2);
    expect((await healer.crashLoops('db')).size).toBe(0);
  });

  it('tells status about a crash loop from the second short run in a row, until the replica has run for the reset window', async () => {
    const { healer, logReads, tick, now } = setup();
    const exited = (run: number): ObservedContainer => ({ ...observedReplica(web, 1), id: 'c-loop', state: 'exited', lastRun: { startedAt: now() - 500, finishedAt: now() - run, exitCode: 3, oomKilled: false } });
    pass(healer, [exited(100)]);
    expect((await healer.crashLoops('web')).size).toBe(0);
    tick(2000);
    pass(healer, [exited(50)]);
    expect(await healer.crashLoops('web')).toEqual(new Map([['web/api', { replica: 'web-api-1', crashes: 2, exitCode: 3, logLines: ['log of c-loop'], nextRestartAt: now() - 50 + 1000 }]]));
    const running = { ...observedReplica(web, 1), id: 'c-loop' };
    pass(healer, [running]);
    expect((await healer.crashLoops('web')).get('web/api')).toMatchObject({ crashes: 2, nextRestartAt: undefined });
    expect(logReads).toEqual(['c-loop']);
    tick(60_000);
    pass(healer, [running]);
    expect((await healer.crashLoops('web')).size).toBe(0);
  });

  it('does not call runs the engine ended (it stopped or restarted) crashes: no crash loop, no backoff for them', async () => {
    const { healer, tick, now } = setup();
    // The engine stops its containers on its way out; a lane may even restart one before it exits.
    const stopped = (run: number): ObservedContainer => ({ ...observedReplica(web, 1), id: 'c-1', state: 'exited', lastRun: { startedAt: now() - run - 400, finishedAt: now() - run, exitCode: 0, oomKilled: false } });
    pass(healer, [stopped(100)]);
    tick(2000);
    pass(healer, [stopped(50)]);
    expect((await healer.crashLoops('web')).get('web/api')?.crashes).toBe(2);
    // Lost (the events stream ended), and back: the run it closed while restoring its containers is its doing too.
    healer.engineLost();
    tick(5000);
    healer.engineLost();
    const observed = { instance: 'test', containers: [stopped(4000)], networks: [], volumes: [] };
    expect(healer.input('web', observed).runs.get('c-1')).toEqual([]);
    healer.planned('web', { plan: plan([]), observed });
    expect((await healer.crashLoops('web')).size).toBe(0);
    // Afterwards a replica that crashes twice is a crash loop again.
    tick(1000);
    pass(healer, [stopped(100)]);
    tick(2000);
    pass(healer, [stopped(50)]);
    expect((await healer.crashLoops('web')).get('web/api')?.crashes).toBe(2);
  });

  it('asks the lane to look again when a backoff ends, and shortly while the engine still lists a dead replica as running', () => {
    const { healer, now } = setup();
    const one = observedReplica(web, 1);
    const observed = { instance: 'test', containers: [one], networks: [], volumes: [] };
    const until = now() + 4000;
    expect(healer.planned('web', { plan: plan([], [{ stack: 'web', service: 'api', name: 'web-api-1', until, crashes: 3, exitCode: 1, cause: 'crash loop' }]), observed })).toBe(until + 20);
    healer.noteEvent('die', 'web', 'web-api-1', now(), one.id);
    expect(healer.planned('web', { plan: plan([]), observed })).toBe(now() + 25);
    // Once the snapshot agrees (or another stack's lane looks), nothing more is asked.
    expect(healer.planned('db', { plan: plan([]), observed: { ...observed, containers: [] } })).toBeUndefined();
    expect(healer.planned('web', { plan: plan([]), observed: { ...observed, containers: [{ ...one, state: 'exited' }] } })).toBeUndefined();
  });
});
