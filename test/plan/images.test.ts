import { describe, expect, it } from 'vitest';
import { LABEL } from '../../src/desired/labels.js';
import type { ImageFacts, ObservedContainer, ObservedState } from '../../src/observed/model.js';
import { planChanges } from '../../src/plan/planner.js';
import { renderJson, renderText } from '../../src/plan/render.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedNetwork, observedReplica } from '../helpers/specs.js';

const OLD = `sha256:${'ab12'.repeat(16)}`;
const NEW = `sha256:${'cd34'.repeat(16)}`;

function observed(containers: ObservedContainer[], images: ImageFacts, stacks = ['web']): ObservedState {
  return { instance: 'test', containers, networks: stacks.map((s) => observedNetwork(s)), volumes: [], images };
}
const facts = (engine: Record<string, string[] | undefined>, registry: Record<string, string> = {}): ImageFacts => ({
  engine: new Map(Object.entries(engine).map(([ref, digests]) => [ref, digests === undefined ? undefined : { id: `sha256:${ref.length}`, repoDigests: digests }])),
  registry: new Map(Object.entries(registry)),
});
const withDigest = (c: ObservedContainer, digest: string): ObservedContainer => ({ ...c, labels: { ...c.labels, [LABEL.imageDigest]: digest } });

const cache = desiredService('web', 'cache', { image: 'redis:7.4' });
const queue = desiredService('jobs', 'queue', { image: 'redis:7.4' });
const api = desiredService('web', 'api', { image: 'registry.example/team/api:1.4.2', replicas: 2 });

describe('planning pulls, golden text', () => {
  it('pulls a missing image once for every service using it, before anything is created', () => {
    const plan = planChanges(desiredState(REV_A, [desiredStack('jobs', [queue]), desiredStack('web', [api, cache])]), observed([], facts({ 'redis:7.4': undefined, 'registry.example/team/api:1.4.2': undefined }), ['web', 'jobs']));
    expect(renderText(plan)).toBe(`Plan for aaaaaaa on instance test:
  jobs
    pull image redis:7.4: not on the engine (for jobs/queue, web/cache)
    create jobs-queue-1: new service, 1 replica
  web
    pull image registry.example/team/api:1.4.2: not on the engine (for web/api)
    create web-api-1: new service, 2 replicas
    create web-api-2: new service, 2 replicas
    create web-cache-1: new service, 1 replica
Summary: 2 images to pull, 4 to create.
`);
    const json = JSON.parse(renderJson(plan)) as { operations: { action: string; target: string; service: string | null; phase: number }[] };
    expect(json.operations[0]).toMatchObject({ action: 'pull-image', target: 'redis:7.4', service: null, phase: 1 });
  });

  it('pulls nothing for replicas that run, nor with pull_policy never', () => {
    const never = desiredService('web', 'cache', { image: 'redis:7.4', pullPolicy: { kind: 'never' } });
    expect(planChanges(desiredState(REV_A, [desiredStack('web', [cache])]), observed([observedReplica(cache, 1)], facts({ 'redis:7.4': undefined }))).operations).toEqual([]);
    expect(renderText(planChanges(desiredState(REV_A, [desiredStack('web', [never])]), observed([], facts({ 'redis:7.4': undefined }))))).not.toContain('pull image');
  });

  it('a moved tag pulls and rolls each replica made from the old digest, saying so with both digests', () => {
    const always = desiredService('web', 'cache', { image: 'redis:7.4', replicas: 2, pullPolicy: { kind: 'check', everyMs: 0, text: 'always' } });
    const running = [1, 2].map((n) => withDigest(observedReplica(always, n), OLD));
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [always])]), observed(running, facts({ 'redis:7.4': [`redis@${OLD}`] }, { 'redis:7.4': NEW })));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    pull image redis:7.4: tag moved: sha256:ab12ab12ab12… → sha256:cd34cd34cd34… (for web/cache)
    recreate web-cache-1: image redis:7.4 moved: sha256:ab12ab12ab12… → sha256:cd34cd34cd34…
    recreate web-cache-2: image redis:7.4 moved: sha256:ab12ab12ab12… → sha256:cd34cd34cd34…
Summary: 1 image to pull, 2 to recreate.
`);
    // The way back is the digest it ran, pinned.
    const op = plan.operations.find((o) => o.kind === 'recreate-container');
    expect(op?.kind === 'recreate-container' ? op.update.previous?.spec.image : undefined).toBe(`redis:7.4@${OLD}`);
  });

  it('rolls replicas made before the tag moved on the engine, and leaves replicas without a recorded digest alone', () => {
    const running = [withDigest(observedReplica(cache, 1), OLD)];
    expect(renderText(planChanges(desiredState(REV_B, [desiredStack('web', [cache])]), observed(running, facts({ 'redis:7.4': [`redis@${NEW}`] }))))).toContain('recreate web-cache-1: image redis:7.4 moved');
    expect(planChanges(desiredState(REV_B, [desiredStack('web', [cache])]), observed([observedReplica(cache, 1)], facts({ 'redis:7.4': [`redis@${NEW}`] }))).operations).toEqual([]);
  });

  it('a pinned digest is what runs, whatever the tag says', () => {
    const pinned = desiredService('web', 'cache', { image: `redis:7.4@${NEW}` });
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [pinned])]), observed([withDigest(observedReplica(pinned, 1), NEW)], facts({ [`redis:7.4@${NEW}`]: [`redis@${NEW}`] }, {})));
    expect(plan.operations).toEqual([]);
  });
});
