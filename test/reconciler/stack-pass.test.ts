// Lane passes against a fake engine with an injected clock: the real planner,
// executor, rollout driver and rolling step machine, one pass at a time. A
// rolling update takes one phase per pass (never holding the lane), keeps
// every replica's slot served, and ends converged; a kill -9 after any pass
// (a new process: fresh memory, same engine and records) and a newer commit
// arriving after any pass both end converged on the right spec with nothing
// left under a second name; other services heal between steps; typed
// outcomes for failures, holds and depends_on.

import { describe, expect, it } from 'vitest';
import { dockerPort } from '../../src/apply/docker-port.js';
import { memoryHeldRollouts, type HeldRolloutStore } from '../../src/apply/held-rollouts.js';
import { memoryRolloutStore, type RolloutStore } from '../../src/apply/rollout-store.js';
import type { AdmittedReplica, Traffic } from '../../src/apply/traffic.js';
import type { DesiredService, DesiredStack } from '../../src/desired/model.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { UpdateConfig } from '../../src/manifests/model.js';
import { DEFAULT_UPDATE_CONFIG } from '../../src/manifests/normalize.js';
import type { StackAtRevision } from '../../src/reconciler/desired-source.js';
import { newLaneMemory, runStackPass, type LaneMemory, type LaneOutcome, type StackPassDeps } from '../../src/reconciler/stack-pass.js';
import type { StackReport } from '../../src/status/reporter.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { REV_A, REV_B, desiredService, desiredStack } from '../helpers/specs.js';

const REV_C = 'c'.repeat(40);
const T0 = Date.parse('2026-11-25T10:00:00Z');
const healthcheck = { test: ['CMD', 'true'], intervalMs: 1000, timeoutMs: 1000, retries: 3, startPeriodMs: 0, startIntervalMs: undefined, disable: false } as never;

function api(image: string, update: Partial<UpdateConfig> = {}, replicas = 3): DesiredService {
  return desiredService('web', 'api', { image, replicas, healthcheck, update: { ...DEFAULT_UPDATE_CONFIG, monitorMs: 5000, ...update }, capstan: { strategy: 'rolling', progressDeadlineMs: 30_000, probe: undefined, routes: [] } });
}
const worker = desiredService('web', 'worker', { image: 'example/worker:1' });

function at(revision: string, services: DesiredService[]): StackAtRevision {
  const desired: DesiredStack = desiredStack('web', services);
  return { name: 'web', file: 'stacks/web.yaml', revision, fingerprint: revision, desired, errors: [] };
}

/** What traffic saw: which replicas are in rotation. */
function recordingTraffic(engine: FakeEngine): Traffic & { inRotation: Set<string> } {
  const inRotation = new Set<string>();
  return {
    inRotation,
    admit: async (r: AdmittedReplica) => void inRotation.add(r.containerId),
    retire: async (id: string) => void inRotation.delete(id),
    renamed: async () => undefined,
    split: async () => undefined,
    switchOver: async (admit: readonly AdmittedReplica[], retire: readonly string[]) => {
      for (const r of admit) inRotation.add(r.containerId);
      for (const id of retire) inRotation.delete(id);
    },
    ...{ engine },
  };
}

/** One operator process: its own memory and traffic, the engine and records it shares with the next one (as a data dir would). */
function operator(engine: FakeEngine, store: RolloutStore, held: HeldRolloutStore, clock: { now: number }, reports: StackReport[]) {
  const traffic = recordingTraffic(engine);
  const memory: LaneMemory = newLaneMemory();
  const deps: StackPassDeps = {
    backend: dockerPort(engine), instance: 'test', publishPorts: false, contents: undefined, materialize: async () => '/nonexistent', readBlob: async () => new Uint8Array(),
    rollout: { traffic, probes: { track: () => undefined, healthOf: () => undefined }, held, store, now: () => clock.now },
    parallelism: 8, logger: silentLogger(), now: () => clock.now, syncAllowed: () => true, force: false, hooks: undefined,
    report: async (_stack, report) => void reports.push(report),
  };
  return { pass: (stack: StackAtRevision | undefined) => runStackPass('web', stack, memory, deps), traffic, memory };
}

function world() {
  const engine = new FakeEngine();
  const store = memoryRolloutStore();
  const held = memoryHeldRollouts();
  const clock = { now: T0 };
  const reports: StackReport[] = [];
  return { engine, store, held, clock, reports, start: () => operator(engine, store, held, clock, reports) };
}

/** New replicas pass their healthcheck as soon as the test looks: a healthy deploy. */
function allHealthy(engine: FakeEngine): void {
  for (const c of engine.containers.values()) if (c.health === 'starting') engine.edit(c.id, { health: 'healthy' });
}

/** Runs passes the way the lane would (moving the clock to each requeue) until one ends settled; returns every outcome. */
async function untilSettled(pass: () => Promise<LaneOutcome>, w: ReturnType<typeof world>, each: (o: LaneOutcome, i: number) => void = () => undefined, max = 100): Promise<LaneOutcome[]> {
  const outcomes: LaneOutcome[] = [];
  for (let i = 0; i < max; i++) {
    const o = await pass();
    outcomes.push(o);
    each(o, i);
    if (o.kind === 'converged' || o.kind === 'failed' || o.kind === 'held') return outcomes;
    w.clock.now = Math.max(w.clock.now, o.requeueAt ?? w.clock.now);
    allHealthy(w.engine);
  }
  throw new Error(`not settled after ${max} passes: ${outcomes.map((o) => `${o.kind}/${o.reason}`).join(', ')}`);
}

/** A converged stack of 3 api replicas running `image` and a worker. */
async function deployed(image = 'example/api:1'): Promise<ReturnType<typeof world>> {
  const w = world();
  const op = w.start();
  await untilSettled(() => op.pass(at(REV_A, [api(image), worker])), w);
  w.engine.calls.length = 0;
  w.reports.length = 0;
  return w;
}

const names = (engine: FakeEngine, service = 'api'): string[] => Object.keys(engine.byName('web', service)).sort();
const hashes = (engine: FakeEngine, service = 'api'): string[] => [...new Set(Object.values(engine.byName('web', service)).map((c) => c.specHash))];

describe('a lane pass', () => {
  it('rolls 3 replicas one phase per pass: twins start, become ready, take traffic, are watched, then replace their replicas', async () => {
    const w = await deployed();
    const op = w.start();
    const target = api('example/api:2');
    const phases: string[] = [];
    const outcomes = await untilSettled(() => op.pass(at(REV_B, [target, worker])), w, (o) => {
      phases.push(`${o.kind}${o.progress[0] === undefined ? '' : ` ${o.progress[0].batch}/${o.progress[0].batches} ${o.progress[0].phase}`}`);
      // Never fewer than 3 replicas of api running: start-first all the way.
      expect(Object.values(w.engine.byName('web', 'api')).filter((c) => c.state === 'running').length).toBeGreaterThanOrEqual(3);
    });
    expect(phases).toEqual([
      'progressing 1/3 awaiting', 'progressing 1/3 monitoring', 'progressing 2/3 delay',
      'progressing 2/3 awaiting', 'progressing 2/3 monitoring', 'progressing 3/3 delay',
      'progressing 3/3 awaiting', 'progressing 3/3 monitoring', 'progressing',
      'converged',
    ]);
    expect(outcomes.at(-1)).toMatchObject({ kind: 'converged', revision: REV_B });
    expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
    expect(hashes(w.engine)).toEqual([target.specHash]);
    expect(w.engine.calls.filter((c) => c.includes('api-1'))).toEqual(['create web-api-1-next', 'remove web-api-1', 'rename web-api-1-next → web-api-1']);
    // lastAppliedRevision moved once, at the end.
    expect(w.reports.map((r) => r.input.converged)).toEqual([...Array(outcomes.length - 1).fill(false), true]);
    expect(await w.store.read('web')).toEqual(new Map());
  });

  it('waits the monitor window out by the clock it is given, not by sleeping: the lane is free meanwhile', async () => {
    const w = await deployed();
    const op = w.start();
    const first = await op.pass(at(REV_B, [api('example/api:2'), worker]));
    expect(first.requeueAt).toBeLessThanOrEqual(T0 + 1000);
    allHealthy(w.engine);
    const shifted = await op.pass(at(REV_B, [api('example/api:2'), worker]));
    expect(shifted.progress[0]?.phase).toBe('monitoring');
    expect(shifted.requeueAt).toBe(w.clock.now + 5000);
    // Woken early (an event): the rollout stays where it is.
    const early = await op.pass(at(REV_B, [api('example/api:2'), worker]));
    expect(early.progress[0]).toMatchObject({ phase: 'monitoring', batch: 1 });
  });

  for (let kill = 1; kill <= 9; kill++) {
    it(`resumes from the record after a kill -9 following pass ${kill} of the rollout`, async () => {
      const w = await deployed();
      const target = api('example/api:2');
      const first = w.start();
      for (let i = 0; i < kill; i++) {
        const o = await first.pass(at(REV_B, [target, worker]));
        w.clock.now = Math.max(w.clock.now, o.requeueAt ?? w.clock.now);
        allHealthy(w.engine);
      }
      const second = w.start();
      const outcomes = await untilSettled(() => second.pass(at(REV_B, [target, worker])), w);
      expect(outcomes.at(-1)?.kind).toBe('converged');
      expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
      expect(hashes(w.engine)).toEqual([target.specHash]);
      // Every replica was replaced once: no slot was rolled twice.
      expect(w.engine.calls.filter((c) => c.startsWith('create web-api'))).toHaveLength(3);
    });
  }

  for (let after = 1; after <= 8; after++) {
    it(`lets a newer commit supersede the rollout at the step after pass ${after}, then rolls to it`, async () => {
      const w = await deployed();
      const op = w.start();
      for (let i = 0; i < after; i++) {
        const o = await op.pass(at(REV_B, [api('example/api:2'), worker]));
        w.clock.now = Math.max(w.clock.now, o.requeueAt ?? w.clock.now);
        allHealthy(w.engine);
      }
      const newer = api('example/api:3');
      const outcomes = await untilSettled(() => op.pass(at(REV_C, [newer, worker])), w);
      expect(outcomes.some((o) => o.kind === 'superseded') || after === 9).toBe(true);
      expect(outcomes.at(-1)).toMatchObject({ kind: 'converged', revision: REV_C });
      expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
      expect(hashes(w.engine)).toEqual([newer.specHash]);
    });
  }

  it('heals another service between rollout steps, without waiting for the rollout', async () => {
    const w = await deployed();
    const op = w.start();
    const target = api('example/api:2');
    await op.pass(at(REV_B, [target, worker]));
    const lost = w.engine.find('web-worker-1');
    if (lost !== undefined) await w.engine.removeContainer(lost.id);
    const healing = await op.pass(at(REV_B, [target, worker]));
    expect(healing.kind).toBe('progressing');
    expect(w.engine.find('web-worker-1')).toBeDefined();
    expect(healing.progress[0]).toMatchObject({ service: 'api', batch: 1 });
  });

  it('rolls back when a twin never gets ready, fails the pass with a typed outcome, and holds the revision', async () => {
    const w = await deployed();
    const op = w.start();
    const broken = api('example/api:broken');
    const outcomes: LaneOutcome[] = [];
    for (let i = 0; i < 100; i++) {
      const o = await op.pass(at(REV_B, [broken, worker]));
      outcomes.push(o);
      if (o.kind === 'failed' || o.kind === 'held') break;
      // The twin stays `starting` forever; time runs past its progress deadline.
      w.clock.now = Math.max(w.clock.now, o.requeueAt ?? w.clock.now);
    }
    const failed = outcomes.find((o) => o.kind === 'failed');
    expect(failed).toMatchObject({ reason: 'RolloutFailed' });
    expect(failed?.failures[0]).toMatchObject({ id: 'rollout:web/api', reason: 'rollout' });
    expect(failed?.failures[0]?.error.message).toContain('progress deadline');
    expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
    expect(hashes(w.engine)).toEqual([api('example/api:1').specHash]);
    // Held: the next pass starts nothing for the same revision.
    const again = await op.pass(at(REV_B, [broken, worker]));
    expect(again).toMatchObject({ kind: 'held', reason: 'RolloutHeld' });
    expect(w.engine.calls.filter((c) => c.startsWith('create')).length).toBe(1);
  });

  /** Passes of a rollout to REV_B until its first batch is in its monitor window. */
  async function monitoring(w: ReturnType<typeof world>, op: ReturnType<ReturnType<typeof world>['start']>, target: DesiredService): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const o = await op.pass(at(REV_B, [target, worker]));
      if (o.progress[0]?.phase === 'monitoring') return;
      w.clock.now = Math.max(w.clock.now, o.requeueAt ?? w.clock.now);
      allHealthy(w.engine);
    }
    throw new Error('the rollout never reached its monitor window');
  }

  /** `name` stopped a moment ago with `exitCode`, after a run that began at `startedAt`. */
  const exited = (w: ReturnType<typeof world>, name: string, exitCode: number, startedAt: number): void => {
    const c = w.engine.find(name);
    if (c !== undefined) w.engine.edit(c.id, { state: 'exited', health: undefined, lastRun: { startedAt, finishedAt: w.clock.now - 100, exitCode, oomKilled: false } });
  };

  it('survives an engine restart inside the monitor window: waits, starts the new replica again, watches anew and completes to the new release', async () => {
    const w = await deployed();
    const op = w.start();
    const target = api('example/api:2');
    await monitoring(w, op, target);
    // dockerd stopping: every container of the stack stops at once, the ones from before the rollout included.
    w.clock.now += 1000;
    for (const name of ['web-api-1', 'web-api-2', 'web-api-3', 'web-worker-1']) exited(w, name, 0, T0 - 60_000);
    exited(w, 'web-api-1-next', 0, w.clock.now - 2000);
    const seen = await op.pass(at(REV_B, [target, worker]));
    expect(seen).toMatchObject({ kind: 'progressing' });
    expect(seen.progress[0]).toMatchObject({ service: 'api', batch: 1, phase: 'interrupted' });
    expect(w.engine.calls.filter((c) => c.includes('api-1-next'))).toEqual(['create web-api-1-next']);
    // The engine is back (the worker healed by the pass); the batch starts its replica again only once the stop has settled.
    const early = await op.pass(at(REV_B, [target, worker]));
    expect(early.progress[0]?.phase).toBe('interrupted');
    w.clock.now = Math.max(w.clock.now, early.requeueAt ?? w.clock.now);
    const resumed = await op.pass(at(REV_B, [target, worker]));
    expect(resumed.progress[0]).toMatchObject({ batch: 1, phase: 'awaiting' });
    expect(w.engine.calls).toContain('start web-api-1-next');
    const outcomes = await untilSettled(() => op.pass(at(REV_B, [target, worker])), w);
    expect(outcomes.at(-1)).toMatchObject({ kind: 'converged', revision: REV_B });
    expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
    expect(hashes(w.engine)).toEqual([target.specHash]);
    expect(Object.values(w.engine.byName('web', 'api')).every((c) => c.state === 'running')).toBe(true);
    expect(await w.held.list()).toEqual([]);
    expect(w.reports.map((r) => r.outcome).filter((k) => k === 'failed' || k === 'held')).toEqual([]);
    expect(w.reports.some((r) => r.input.outcome.kind === 'rolled-back')).toBe(false);
  });

  it('survives an engine restart inside a stop-first batch\'s monitor window the same way', async () => {
    const w = await deployed();
    const op = w.start();
    const target = api('example/api:2', { order: 'stop-first' });
    await monitoring(w, op, target);
    w.clock.now += 1000;
    exited(w, 'web-api-1', 0, w.clock.now - 2000);
    for (const name of ['web-api-2', 'web-api-3', 'web-worker-1']) exited(w, name, 0, T0 - 60_000);
    const seen = await op.pass(at(REV_B, [target, worker]));
    expect(seen.progress[0]?.phase).toBe('interrupted');
    w.clock.now = Math.max(w.clock.now, seen.requeueAt ?? w.clock.now);
    const outcomes = await untilSettled(() => op.pass(at(REV_B, [target, worker])), w);
    expect(outcomes.at(-1)).toMatchObject({ kind: 'converged', revision: REV_B });
    expect(hashes(w.engine)).toEqual([target.specHash]);
    expect(Object.values(w.engine.byName('web', 'api')).every((c) => c.state === 'running')).toBe(true);
    expect(await w.held.list()).toEqual([]);
  });

  it('gives a replica that stopped cleanly a moment for the rest of the stack to follow: seen stopping a pass apart, it is still the engine\'s doing', async () => {
    const w = await deployed();
    const op = w.start();
    const target = api('example/api:2');
    await monitoring(w, op, target);
    w.clock.now += 1000;
    // The snapshot caught the twin first; the engine stops the rest a moment later.
    exited(w, 'web-api-1-next', 143, w.clock.now - 2000);
    const first = await op.pass(at(REV_B, [target, worker]));
    expect(first).toMatchObject({ kind: 'progressing' });
    expect(first.progress[0]?.phase).toBe('monitoring');
    w.clock.now += 500;
    for (const name of ['web-api-1', 'web-api-2', 'web-api-3']) exited(w, name, 143, T0 - 60_000);
    const second = await op.pass(at(REV_B, [target, worker]));
    expect(second.progress[0]?.phase).toBe('interrupted');
    w.clock.now = Math.max(w.clock.now, second.requeueAt ?? w.clock.now);
    const outcomes = await untilSettled(() => op.pass(at(REV_B, [target, worker])), w);
    expect(outcomes.at(-1)).toMatchObject({ kind: 'converged', revision: REV_B });
    expect(hashes(w.engine)).toEqual([target.specHash]);
  });

  for (const exitCode of [1, 0]) {
    it(`still rolls back when only the new replica stops inside the monitor window (exit code ${exitCode}) while the rest run`, async () => {
      const w = await deployed();
      const op = w.start();
      const target = api('example/api:2');
      await monitoring(w, op, target);
      w.clock.now += 1000;
      exited(w, 'web-api-1-next', exitCode, w.clock.now - 2000);
      const outcomes: LaneOutcome[] = [];
      for (let i = 0; i < 5; i++) {
        const o = await op.pass(at(REV_B, [target, worker]));
        outcomes.push(o);
        if (o.kind === 'failed') break;
        w.clock.now = Math.max(w.clock.now, o.requeueAt ?? w.clock.now);
      }
      // Exit 1 fails at the first look, as it always did; a clean exit after a moment's wait for the rest of the stack.
      expect(outcomes.map((o) => o.kind)).toEqual(exitCode === 0 ? ['progressing', 'failed'] : ['failed']);
      expect(outcomes.at(-1)).toMatchObject({ kind: 'failed', reason: 'RolloutFailed' });
      expect(outcomes.at(-1)?.failures[0]?.error.message).toContain(`web-api-1-next exited with code ${exitCode} within the monitor window`);
      expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
      expect(hashes(w.engine)).toEqual([api('example/api:1').specHash]);
      expect(w.engine.calls).not.toContain('start web-api-1-next');
      expect(await w.held.list()).toMatchObject([{ stack: 'web', service: 'api', revision: REV_B, end: 'rolled-back' }]);
    });
  }

  it('reports a failed operation by its id and reason, and keeps applying the rest', async () => {
    const w = world();
    const op = w.start();
    w.engine.failCreate.add('web-worker-1');
    const o = await op.pass(at(REV_A, [api('example/api:1'), worker]));
    expect(o).toMatchObject({ kind: 'failed', reason: 'ApplyFailed' });
    expect(o.failures.map((f) => [f.id, f.reason])).toEqual([['create-container:web/web-worker-1', 'new-service']]);
    expect(names(w.engine)).toEqual(['web-api-1', 'web-api-2', 'web-api-3']);
    expect(w.reports.at(-1)?.input.converged).toBe(false);
  });

  it('postpones a dependent until its dependency is healthy, from the snapshot, without holding the pass', async () => {
    const w = world();
    const op = w.start();
    const db = desiredService('web', 'db', { image: 'example/db:1', healthcheck });
    const app = desiredService('web', 'app', { image: 'example/app:1', dependsOn: { db: 'service_healthy' } });
    const first = await op.pass(at(REV_A, [db, app]));
    expect(first).toMatchObject({ kind: 'progressing', reason: 'Applied' });
    expect(w.engine.find('web-app-1')).toBeUndefined();
    const waiting = await op.pass(at(REV_A, [db, app]));
    expect(waiting).toMatchObject({ kind: 'progressing', reason: 'AwaitingDependency' });
    allHealthy(w.engine);
    await op.pass(at(REV_A, [db, app]));
    expect(w.engine.find('web-app-1')).toBeDefined();
  });

  it('leaves the engine alone while the stack\'s file is invalid, and heals it to the last good revision', async () => {
    const w = await deployed();
    const op = w.start();
    await op.pass(at(REV_A, [api('example/api:1'), worker]));
    const bad: StackAtRevision = { ...at(REV_B, []), desired: undefined, errors: [{ format: () => 'stacks/web.yaml:4:5 services.api.imagee: unknown key' } as never] };
    const lost = w.engine.find('web-worker-1');
    if (lost !== undefined) await w.engine.removeContainer(lost.id);
    const o = await op.pass(bad);
    expect(o.kind).toBe('failed');
    expect(w.engine.find('web-worker-1')?.specHash).toBe(worker.specHash);
    expect(w.reports.at(-1)?.input.outcome).toMatchObject({ kind: 'invalid' });
  });
});
