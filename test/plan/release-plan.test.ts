// Plans say how a change will be released (golden text), and the planner
// keeps a canary release's own canaries while removing any other.

import { describe, expect, it } from 'vitest';
import type { ObservedState } from '../../src/observed/model.js';
import { planChanges } from '../../src/plan/planner.js';
import { renderText } from '../../src/plan/render.js';
import { REV_B, desiredService, desiredStack, desiredState, observedNetwork, observedReplica } from '../helpers/specs.js';

const canary = { steps: [{ weight: 10, pause: 30_000 }, { weight: 50, pause: 'manual' as const }, { weight: 100, pause: undefined }], analysis: { intervalMs: 10_000, maxErrorRate: 0.01, maxP95Ms: 500, minRequests: 20, prometheus: undefined } };
const capstan = (strategy: 'canary' | 'blue-green') => ({
  strategy, progressDeadlineMs: 60_000, probe: undefined, routes: [],
  ...(strategy === 'canary' ? { canary } : { blueGreen: { scaleDownDelayMs: 30_000, monitorMs: 10_000, preSwitch: undefined } }),
});
const v1 = desiredService('web', 'api', { image: 'example/api:1', replicas: 2, capstan: capstan('canary') });
const v2 = desiredService('web', 'api', { image: 'example/api:2', replicas: 2, capstan: capstan('canary') });
const bg1 = desiredService('web', 'front', { image: 'example/front:1', capstan: capstan('blue-green') });
const bg2 = desiredService('web', 'front', { image: 'example/front:2', capstan: capstan('blue-green') });

function observed(containers: ObservedState['containers']): ObservedState {
  return { instance: 'test', containers, networks: [observedNetwork('web')], volumes: [] };
}

describe('release plans', () => {
  it('names the strategy, its steps and its analysis', () => {
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [v2, bg2])]), observed([observedReplica(v1, 1), observedReplica(v1, 2), observedReplica(bg1, 1)]));
    expect(renderText(plan)).toBe(`Plan for bbbbbbb on instance test:
  web
    recreate web-api-1: image example/api:1 → 2
    recreate web-api-2: image example/api:1 → 2
    recreate web-front-1: image example/front:1 → 2
  Release: canary web/api: 10% (30 s) → 50% (manual) → 100%, analysis error rate ≤ 1 %, p95 ≤ 500 ms every 10 s over ≥ 20 requests
  Release: blue-green web/front: 1 new replica beside the live set, switch at once, monitor 10 s, old set kept 30 s
Summary: 3 to recreate.
`);
  });

  it("keeps the canaries of the release in progress and removes any other canary", () => {
    const mine = { ...observedReplica(v2, 1), id: 'cn1', name: 'web-api-1-canary' };
    const stale = { ...observedReplica(v1, 2), id: 'cn2', name: 'web-api-2-canary' };
    const plan = planChanges(desiredState(REV_B, [desiredStack('web', [v2])]), observed([observedReplica(v1, 1), observedReplica(v1, 2), mine, stale]));
    expect(plan.operations.filter((o) => o.kind === 'remove-container').map((o) => `${o.kind === 'remove-container' ? o.name : ''} ${o.reason}`)).toEqual(['web-api-2-canary leftover-canary']);
    expect(plan.operations.filter((o) => o.kind === 'recreate-container')).toHaveLength(2);
  });
});
