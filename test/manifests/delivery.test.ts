// x-capstan's canary, blue_green and autoscale keys as a user writes them:
// typed with defaults, and every wrong combination an error at its line.

import { describe, expect, it } from 'vitest';
import { specHash } from '../../src/desired/spec-hash.js';
import { errorsOf, load, service, svc } from './helpers.js';

const route = '  route: { path: / }';

describe('x-capstan canary', () => {
  it('reads steps with durations, manual and no pause, and analysis with defaults', () => {
    const s = service(svc(
      'x-capstan:', route, '  strategy: canary',
      '  canary:',
      '    steps: [ { weight: 10, pause: 30s }, { weight: 50, pause: manual }, { weight: 100 } ]',
      '    analysis: { max_error_rate: 0.01, max_p95_ms: 500 }',
    ));
    expect(s.capstan.canary).toEqual({
      steps: [{ weight: 10, pause: 30_000 }, { weight: 50, pause: 'manual' }, { weight: 100, pause: undefined }],
      analysis: { intervalMs: 10_000, maxErrorRate: 0.01, maxP95Ms: 500, minRequests: 20, prometheus: undefined },
    });
  });

  it('refuses a last step below 100, falling weights, a missing block and analysis without a route or a threshold, at their lines', () => {
    const r = load({
      'stacks/web.yaml': [
        'services:',
        '  a:',
        '    image: x',
        '    x-capstan:',
        '      strategy: canary',
        '      canary:',
        '        steps: [ { weight: 50 }, { weight: 20 } ]',
        '        analysis: { min_requests: 5 }',
        '  b:',
        '    image: x',
        '    x-capstan: { strategy: canary }',
        '  c:',
        '    image: x',
        '    x-capstan: { canary: { steps: [ { weight: 100 } ] } }',
      ].join('\n'),
    });
    expect(errorsOf(r)).toEqual([
      'stacks/web.yaml:7:44 services.a.x-capstan.canary.steps[1].weight: the last canary step must be weight: 100, not 20 (end the steps with `{ weight: 100 }`: that step promotes the new version)',
      'stacks/web.yaml:7:44 services.a.x-capstan.canary.steps[1].weight: canary weights go up: step 2 (20) is not above step 1 (50) (order the steps by weight, ending with 100)',
      "stacks/web.yaml:8:9 services.a.x-capstan.canary.analysis: canary analysis needs `x-capstan.route`: it reads the router's per-route counters (add `route: { path: / }` (or a host) to x-capstan)",
      'stacks/web.yaml:8:9 services.a.x-capstan.canary.analysis: analysis without a threshold judges nothing (set `max_error_rate` (e.g. 0.01), `max_p95_ms` or `prometheus: { url, query, max }`)',
      'stacks/web.yaml:11:28 services.b.x-capstan.strategy: `strategy: canary` needs `canary: { steps: [...] }` (e.g. canary: { steps: [ { weight: 10, pause: 30s }, { weight: 100 } ] })',
      'stacks/web.yaml:14:18 services.c.x-capstan.canary: `canary` is set but the strategy is not canary (add `strategy: canary` next to it, or remove `canary`)',
    ]);
  });

  it('suggests the key meant by a typo', () => {
    const r = load({ 'stacks/web.yaml': svc('x-capstan:', '  canery: {}') });
    expect(errorsOf(r)).toEqual(['stacks/web.yaml:5:7 services.svc.x-capstan.canery: unknown key (did you mean "canary"?)']);
  });
});

describe('x-capstan blue_green and autoscale', () => {
  it('reads blue_green with a pre_switch probe', () => {
    const s = service(svc('x-capstan:', '  strategy: blue-green', '  blue_green: { scale_down_delay: 5s, monitor: 2s, pre_switch: { http: { path: /ready, port: 80 } } }'));
    expect(s.capstan.blueGreen).toMatchObject({ scaleDownDelayMs: 5000, monitorMs: 2000, preSwitch: { check: { kind: 'http', path: '/ready', port: 80 } } });
  });

  it('reads autoscale; deploy.replicas is the starting count, min when absent', () => {
    const s = service(svc('x-capstan:', route, '  autoscale: { min: 2, max: 6, target_rps_per_replica: 50, cooldown: 20s }'));
    expect([s.replicas, s.capstan.autoscale]).toEqual([2, { min: 2, max: 6, target: { kind: 'rps', perReplica: 50 }, cooldownMs: 20_000 }]);
    expect(service(svc('deploy: { replicas: 3 }', 'x-capstan:', '  autoscale: { min: 1, max: 4, target_cpu_percent: 70 }')).replicas).toBe(3);
  });

  it('refuses two targets, none, inverted bounds, a starting count outside them, a request-rate target without a route, and global services', () => {
    const errors = (lines: string[]): string[] => errorsOf(load({ 'stacks/web.yaml': svc(...lines) })).map((e) => e.replace(/^stacks\/web\.yaml:\d+:\d+ /, ''));
    expect(errors(['x-capstan:', route, '  autoscale: { min: 1, max: 3, target_rps_per_replica: 5, target_cpu_percent: 50 }'])).toEqual([
      'services.svc.x-capstan.autoscale: autoscale takes one target, not both (set exactly one of `target_rps_per_replica` and `target_cpu_percent`)',
    ]);
    expect(errors(['deploy: { replicas: 9 }', 'x-capstan:', '  autoscale: { min: 4, max: 3 }'])).toEqual([
      "services.svc.deploy.replicas: deploy.replicas 9 is outside autoscale's bounds 4-3 (deploy.replicas is the starting count: keep it between min and max, or remove it (min is used))",
      'services.svc.x-capstan.autoscale: autoscale needs a target (set exactly one of `target_rps_per_replica` and `target_cpu_percent`)',
      'services.svc.x-capstan.autoscale.min: autoscale.min 4 is above autoscale.max 3 (make min ≤ max)',
    ]);
    expect(errors(['x-capstan:', '  autoscale: { min: 1, max: 3, target_rps_per_replica: 5 }'])).toEqual([
      'services.svc.x-capstan.autoscale.target_rps_per_replica: a request-rate target needs `x-capstan.route`: the router counts requests per route (add `route: { path: / }` (or a host), or use `target_cpu_percent`)',
    ]);
    expect(errors(['deploy: { mode: global }', 'x-capstan:', '  strategy: blue-green', '  autoscale: { min: 1, max: 3, target_cpu_percent: 50 }'])).toEqual([
      'services.svc.x-capstan.strategy: a global service cannot use strategy blue-green (a global service runs one replica per node and updates like a rolling update with parallelism 1; remove `strategy`)',
      'services.svc.x-capstan.autoscale: a global service cannot autoscale (a global service runs one replica per node; remove `autoscale` or `deploy.mode: global`)',
    ]);
  });

  it('keeps the spec hash when only the delivery policy changes: no replica is recreated for new canary steps or autoscale bounds', () => {
    const a = service(svc('x-capstan:', route, '  strategy: canary', '  canary: { steps: [ { weight: 10, pause: 1m }, { weight: 100 } ] }', '  autoscale: { min: 1, max: 3, target_rps_per_replica: 5 }'));
    const b = service(svc('x-capstan:', route, '  strategy: canary', '  canary: { steps: [ { weight: 25 }, { weight: 100 } ] }', '  autoscale: { min: 2, max: 9, target_rps_per_replica: 50 }'));
    expect(specHash(a)).toBe(specHash(b));
  });
});
