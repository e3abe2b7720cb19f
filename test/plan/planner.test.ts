import { describe, expect, it } from 'vitest';
import type { ObservedContainer, ObservedNetwork, ObservedState } from '../../src/observed/model.js';
import { planChanges } from '../../src/plan/planner.js';
import { describeOperation, renderJson, renderText } from '../../src/plan/render.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedNetwork, observedReplica, serviceSpec } from '../helpers/specs.js';

function observed(containers: ObservedContainer[], networks: ObservedNetwork[] = []): ObservedState {
  return { instance: 'test', containers, networks, volumes: [] };
}

const api = desiredService('web', 'api', { replicas: 3, environment: { DB_URL: 'postgres://db', LOG: 'info' } });
const worker = desiredService('web', 'worker', { image: 'example/worker:2', dependsOn: { api: 'service_started' } });
const web = desiredStack('web', [api, worker]);
const running = (): ObservedContainer[] => [1, 2, 3].map((n) => observedReplica(api, n)).concat(observedReplica(worker, 1));

describe('planChanges, golden text', () => {
  it('creates network and every replica on an empty engine, dependencies first', () => {
    const plan = planChanges(desiredState(REV_A, [web]), observed([]));
    expect(renderText(plan)).toBe(`Plan for aaaaaaa on instance test:
  web
    create network web_default: network web_default does not exist
    create web-api-1: new service, 3 replicas
    create web-api-2: new service, 3 replicas
    create web-api-3: new service, 3 replicas
    create web-worker-1: new service, 1 replica
Summary: 4 to create, 1 network/volume changes.
`);
    // worker depends on api: it must be in a later phase than every api replica.
    const phases = plan.operations.map((o) => [o.kind === 'create-network' ? 'net' : describeOperation(o).split(':')[0], o.phase]);
    expect(phases).toEqual([['net', 1], ['create web-api-1', 2], ['create web-api-2', 2], ['create web-api-3', 2], ['create web-worker-1', 3]]);
  });

  it('plans nothing when the engine matches', () => {
    const plan = planChanges(desiredState(REV_B, [web]), observed(running(), [observedNetwork('web')]));
    expect(plan.operations).toEqual([]);
    expect(renderText(plan)).toBe('No changes: instance test matches bbbbbbb.\n');
  });

  it('recreates nothing when only x-capstan changed (probe, route, strategy settings reach no container)', () => {
    const probed = desiredService('web', 'api', { ...api.spec, capstan: { strategy: 'rolling', progressDeadlineMs: 10_000, probe: { check: { kind: 'tcp', port: 80 }, intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, successThreshold: 1, failureThreshold: 3 }, routes: [{ host: 'a.test', pathPrefix: '/', port: 80, sticky: true, tls: undefined, redirectHttp: false }] } });
    expect(probed.specHash).toBe(api.specHash);
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [probed, worker])]), observed(running(), [observedNetwork('web')]));
    expect(plan.operations).toEqual([]);
  });

  it('recreates only the service whose env changed, masking values', () => {
    const changed = desiredService('web', 'api', { replicas: 3, environment: { DB_URL: 'postgres://db2', LOG: 'info', DEBUG: '1' } });
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [changed, worker])]), observed(running(), [observedNetwork('web')]));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    recreate web-api-1: env changed: DB_URL; added: DEBUG
    recreate web-api-2: env changed: DB_URL; added: DEBUG
    recreate web-api-3: env changed: DB_URL; added: DEBUG
Summary: 3 to recreate.
`);
    expect(renderText(plan)).not.toContain('postgres://db2');
  });

  it('names the image change by tag', () => {
    const bumped = desiredService('web', 'worker', { image: 'example/worker:3', dependsOn: { api: 'service_started' } });
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [api, bumped])]), observed(running(), [observedNetwork('web')]));
    expect(renderText(plan)).toContain('    recreate web-worker-1: image example/worker:2 → 3\n');
  });

  it('scales up by adding the next slots and keeps existing replicas', () => {
    const more = desiredService('web', 'api', { ...api.spec, replicas: 5 });
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [more, worker])]), observed(running(), [observedNetwork('web')]));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    create web-api-4: scale up 3 → 5
    create web-api-5: scale up 3 → 5
Summary: 2 to create.
`);
  });

  it('scales down by removing the highest slots', () => {
    const fewer = desiredService('web', 'api', { ...api.spec, replicas: 1 });
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [fewer, worker])]), observed(running(), [observedNetwork('web')]));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    remove web-api-2: scale down 3 → 1
    remove web-api-3: scale down 3 → 1
Summary: 2 to remove.
`);
  });

  it('prunes a service removed from Git, and a whole stack with its network', () => {
    const onlyApi = desiredStack('web', [desiredService('web', 'api', { ...api.spec })]);
    const old = desiredService('legacy', 'app');
    const state = observed([...running(), observedReplica(old, 1)], [observedNetwork('web'), observedNetwork('legacy')]);
    const plan = planChanges(desiredState(REV_B, [onlyApi]), state);
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  legacy
    remove legacy-app-1: stack legacy is no longer in Git
    remove network legacy_default: stack legacy is no longer in Git
  web
    remove web-worker-1: service worker is no longer in stacks/web.yaml
Summary: 2 to remove, 1 network/volume changes.
`);
    // Orphans go first, the network only after its containers are gone.
    expect(plan.operations.map((o) => o.phase)).toEqual([0, 0, 1000]);
  });

  it('restarts a stopped replica and replaces a missing one', () => {
    const replicas = running().filter((c) => c.name !== 'web-api-2');
    const stopped = replicas.map((c) => (c.name === 'web-api-3' ? { ...c, state: 'exited' as const } : c));
    const plan = planChanges(desiredState(REV_A, [web]), observed(stopped, [observedNetwork('web')]));
    expect(renderText(plan)).toBe(`Plan for aaaaaaa on instance test:
  web
    create web-api-2: replica 2 is missing
    start web-api-3: drift: container web-api-3 was stopped
Summary: 1 to create, 1 to start.
`);
  });

  it('leaves a replica the engine is removing alone: it cannot be started, and its destroy event asks for the new one', () => {
    const removing = running().map((c) => (c.name === 'web-api-2' ? { ...c, state: 'removing' as const } : c));
    const plan = planChanges(desiredState(REV_A, [web]), observed(removing, [observedNetwork('web')]));
    expect(plan.operations).toEqual([]);
    expect(planChanges(desiredState(REV_A, [web]), observed(removing.filter((c) => c.name !== 'web-api-2'), [observedNetwork('web')])).operations.map((o) => ('name' in o ? o.name : o.kind))).toEqual(['web-api-2']);
  });

  it('explains a change by hash when the old spec label is unreadable', () => {
    const c = { ...observedReplica(worker, 1, { fromSpec: serviceSpec({ image: 'x:1' }) }), labels: {} };
    const plan = planChanges(desiredState(REV_A, [web]), observed([...running().filter((r) => r.service === 'api'), c], [observedNetwork('web')]));
    expect(plan.operations).toHaveLength(1);
    expect(plan.operations[0]?.cause).toMatch(/^spec changed \([0-9a-f]{12} → [0-9a-f]{12}\)$/);
  });

  it('renders stable JSON with one record per operation', () => {
    const plan = planChanges(desiredState(REV_A, [web]), observed([]));
    const json = JSON.parse(renderJson(plan)) as { changes: number; operations: { action: string; target: string; service: string | null }[] };
    expect(json.changes).toBe(5);
    expect(json.operations[1]).toEqual({ action: 'create-container', stack: 'web', service: 'api', target: 'web-api-1', cause: 'new service, 3 replicas', phase: 2 });
    expect(renderJson(plan)).toBe(renderJson(planChanges(desiredState(REV_A, [web]), observed([]))));
  });
});

describe('planChanges, crash-loop backoff and drift', () => {
  const exited = (finishedAt: number, ranMs: number) => ({
    ...observedReplica(worker, 1),
    state: 'exited' as const,
    lastRun: { startedAt: finishedAt - ranMs, finishedAt, exitCode: 3, oomKilled: false },
  });
  const others = (): ObservedContainer[] => running().filter((c) => c.service === 'api');

  it('holds back the restart of a replica that crashed within its backoff, and restarts it after', () => {
    const c = exited(10_000, 2000);
    const earlier = [{ startedAt: 0, finishedAt: 1000, exitCode: 3 }, { startedAt: 2000, finishedAt: 3000, exitCode: 3 }];
    const healing = (now: number) => ({ now, runs: new Map([[c.id, earlier]]) });
    const held = planChanges(desiredState(REV_A, [web]), observed([...others(), c], [observedNetwork('web')]), healing(11_000));
    expect(held.operations).toEqual([]);
    expect(held.heldBack).toEqual([{ stack: 'web', service: 'worker', name: 'web-worker-1', until: 12_000, crashes: 3, exitCode: 3, cause: 'crash loop: restart backed off 2 s (exit code 3)' }]);

    const due = planChanges(desiredState(REV_A, [web]), observed([...others(), c], [observedNetwork('web')]), healing(12_000));
    expect(due.heldBack).toEqual([]);
    expect(renderText(due)).toContain('start web-worker-1: drift: container web-worker-1 was stopped (exit code 3), crash 3 in a row');
  });

  it('restarts at once after a long run, and always in one-shot apply (no healing input)', () => {
    const longRun = exited(100_000, 90_000);
    expect(planChanges(desiredState(REV_A, [web]), observed([...others(), longRun], [observedNetwork('web')]), { now: 100_001, runs: new Map() }).operations).toHaveLength(1);
    const crashed = exited(100_000, 500);
    const before = new Map([[crashed.id, [{ startedAt: 90_000, finishedAt: 90_500, exitCode: 3 }]]]);
    expect(planChanges(desiredState(REV_A, [web]), observed([...others(), crashed], [observedNetwork('web')]), { now: 100_001, runs: before }).operations).toHaveLength(0);
    expect(planChanges(desiredState(REV_A, [web]), observed([...others(), crashed], [observedNetwork('web')])).operations).toHaveLength(1);
  });

  it('recreates a container whose image is not the one in Git, but not one listed by image id', () => {
    const byHand = { ...observedReplica(worker, 1), image: 'other/image:2' };
    const plan = planChanges(desiredState(REV_A, [web]), observed([...others(), byHand], [observedNetwork('web')]));
    expect(plan.operations.map((op) => `${op.kind} ${op.cause}`)).toEqual([`recreate-container drift: container web-worker-1 runs image other/image:2, Git says ${worker.spec.image}`]);
    const moved = { ...observedReplica(worker, 1), image: 'sha256:0123' };
    expect(planChanges(desiredState(REV_A, [web]), observed([...others(), moved], [observedNetwork('web')])).operations).toEqual([]);
  });
});

describe('planChanges, rolling updates', () => {
  const v1 = desiredService('web', 'api', { replicas: 2, image: 'example/api:1' });
  const v2 = desiredService('web', 'api', { replicas: 2, image: 'example/api:2' });
  const stackOf = (s: typeof v1) => desiredState(REV_B, [desiredStack('web', [s])]);
  const onV1 = (): ObservedContainer[] => [1, 2].map((n) => observedReplica(v2, n, { fromSpec: v1.spec }));
  const twin = (n: number, spec = v2.spec): ObservedContainer => ({ ...observedReplica(v2, n, { fromSpec: spec }), name: `web-api-${n}-next` });

  it('hands each replacement the spec it replaces, for the way back', () => {
    const plan = planChanges(stackOf(v2), observed(onV1(), [observedNetwork('web')]));
    const op = plan.operations[0];
    expect(op?.kind === 'recreate-container' ? op.update : undefined).toEqual({ direction: 'forward', previous: { spec: v1.spec, specHash: v1.specHash }, twinId: undefined });
  });

  it('resumes an interrupted start-first update: waits on the twin already running the new spec', () => {
    const [one, two] = onV1();
    const t = twin(1);
    const plan = planChanges(stackOf(v2), observed([one!, two!, t], [observedNetwork('web')]));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    recreate web-api-1: image example/api:1 → 2
    recreate web-api-2: image example/api:1 → 2
Summary: 2 to recreate.
`);
    const first = plan.operations[0];
    expect(first?.kind === 'recreate-container' ? first.update.twinId : undefined).toBe(t.id);
  });

  it('promotes a twin whose old replica is already gone, and removes a twin of a superseded spec', () => {
    const [, two] = onV1();
    const stale = twin(2, desiredService('web', 'api', { image: 'example/api:1.5' }).spec);
    const plan = planChanges(stackOf(v2), observed([twin(1), two!, stale], [observedNetwork('web')]));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    remove web-api-2-next: leftover of an interrupted update of replica 2
    promote web-api-1: finish the update of replica 1: its old replica is gone, web-api-1-next takes its name
    recreate web-api-2: image example/api:1 → 2
Summary: 1 to recreate, 1 to promote, 1 to remove.
`);
  });

  const held = { stack: 'web', service: 'api', revision: REV_B, specHash: v2.specHash, end: 'rolled-back' as const, reason: 'web-api-1-next not ready', restored: { spec: v1.spec, specHash: v1.specHash }, at: 0 };

  it('holds a service whose rollout of this revision was rolled back: nothing to do, and says so', () => {
    const plan = planChanges(stackOf(v2), observed(onV1(), [observedNetwork('web')]), undefined, [held]);
    expect(plan.operations).toEqual([]);
    expect(plan.heldRollouts).toEqual([held]);
    expect(renderText(plan)).toBe('No changes: instance test matches bbbbbbb.\nHeld: web/api: the rolling update to bbbbbbb failed (web-api-1-next not ready); rolled back, not retried until a new commit or `capstan apply --force`.\n');
  });

  it('finishes a rollback interrupted by a crash, and heals a held service to the restored spec', () => {
    const [one] = onV1();
    const onV2 = observedReplica(v2, 2);
    const plan = planChanges(stackOf(v2), observed([one!, onV2], [observedNetwork('web')]), undefined, [held]);
    expect(renderText(plan)).toContain('recreate web-api-2: roll back: image example/api:2 → 1\n');
    const op = plan.operations[0];
    expect(op?.kind === 'recreate-container' ? [op.update.direction, op.service.specHash] : undefined).toEqual(['back', v1.specHash]);
    const missing = planChanges(stackOf(v2), observed([one!], [observedNetwork('web')]), undefined, [held]);
    const create = missing.operations[0];
    expect(create?.kind === 'create-container' ? create.service.spec.image : undefined).toBe('example/api:1');
  });

  it('tries again once a new commit arrives, and keeps a paused service as it is', () => {
    const next = planChanges(desiredState(REV_A, [desiredStack('web', [v2])]), observed(onV1(), [observedNetwork('web')]), undefined, [held]);
    expect(next.operations.map((o) => o.kind)).toEqual(['recreate-container', 'recreate-container']);
    const paused = planChanges(stackOf(v2), observed(onV1(), [observedNetwork('web')]), undefined, [{ ...held, end: 'paused', restored: undefined }]);
    expect(paused.operations).toEqual([]);
  });
});
