// The dashboard's data, pure: its events (the deploy events, typed), traffic
// rates from cumulative router counters, and the feed a page hears (snapshot
// first, then each change).

import { describe, expect, it } from 'vitest';
import type { DeployEvent } from '../../src/events/model.js';
import { commitUrlOf, DashboardFeed, type FeedEvent } from '../../src/server/dashboard/feed.js';
import { opsEventOf } from '../../src/server/dashboard/ops-events.js';
import { countersFromRouter, p95, TrafficMeter } from '../../src/server/dashboard/traffic.js';
import { replicaVersion } from '../../src/router/routes.js';
import type { RouteVersionStats } from '../../src/router/route-stats.js';
import { desiredService, observedReplica, REV_A, REV_B } from '../helpers/specs.js';

const T = '2026-12-01T10:00:00.000Z';

describe('dashboard events', () => {
  it('are the deploy events, typed: a pull failure by its cause, a deploy start only a commit status', () => {
    const shown = (e: DeployEvent) => opsEventOf(e, T);
    expect(shown({ kind: 'deploy.converged', stack: 'web', revision: REV_A, message: '1/1 services ready' })).toEqual({ time: T, kind: 'deployed', stack: 'web', revision: REV_A, message: `web runs ${REV_A.slice(0, 7)} (1/1 services ready)`, bad: false });
    expect(shown({ kind: 'deploy.failed', stack: 'web', revision: REV_B, reason: 'denied', cause: 'image-pull' })?.kind).toBe('pull-failed');
    expect(shown({ kind: 'deploy.failed', stack: 'web', revision: REV_B, reason: 'pull the lever', cause: 'apply' })?.kind).toBe('deploy-failed');
    expect(shown({ kind: 'deploy.rolled-back', stack: 'web', revision: REV_B, reason: 'probe failed' })).toMatchObject({ kind: 'rolled-back', bad: true });
    expect(shown({ kind: 'crash-loop.started', stack: 'web', service: 'api', replica: 'web-api-1', exitCode: 3, lastLogLines: [] })).toMatchObject({ kind: 'crash-loop', service: 'api', bad: true });
    expect(shown({ kind: 'image-update.committed', stack: 'web', service: 'api', from: '1.4.2', to: '1.5.0', commit: REV_B })?.message).toBe(`image 1.4.2 → 1.5.0 committed as ${REV_B.slice(0, 7)}`);
    expect(shown({ kind: 'deploy.started', stack: 'web', revision: REV_B })).toBeUndefined();
  });
});

describe('traffic', () => {
  const api = desiredService('web', 'api');
  const NEW_SPEC = 'f'.repeat(64);
  const replicas = [observedReplica(api, 1), { ...observedReplica(api, 2, { revision: REV_B }), specHash: NEW_SPEC }];

  it('sums router backends per service and revision, and turns two samples into rates', () => {
    const counters = (a: number, b: number) => countersFromRouter([
      { id: 'web-api-1:80', total: a, errors: 1 }, { id: 'web-api-2-next:80', total: b, errors: 0 }, { id: 'unknown-1:80', total: 99, errors: 9 },
    ], [], replicas);
    expect(counters(10, 5).map((c) => [c.version, c.requests])).toEqual([[REV_A.slice(0, 7), 10], [REV_B.slice(0, 7), 5]]);
    const meter = new TrafficMeter();
    expect(meter.next(counters(10, 5), 1_000)).toEqual([]);
    const points = meter.next(counters(30, 15), 3_000);
    expect(points.map((p) => [p.version, p.rps, p.errorRate, p.p95Ms])).toEqual([[REV_A.slice(0, 7), 10, 0, null], [REV_B.slice(0, 7), 5, 0, null]]);
    // Counts that went down (a backend left the table, the router restarted) skip the interval instead of a spike.
    expect(meter.next(counters(2, 15), 5_000)[0]?.rps).toBe(0);
  });

  it('p95 from cumulative buckets over the interval, as histogram_quantile: linear within its bucket', () => {
    const h = (counts: number[]) => ({ le: [5, 25, 100, Infinity], counts });
    // 95 of 100 requests: the 5th of the 9 between 25 and 100 ms.
    expect(p95(h([50, 90, 99, 100]), undefined)).toBe(66.7);
    // Only the interval counts: 100 more requests, all in the first bucket.
    expect(p95(h([150, 190, 199, 200]), h([50, 90, 99, 100]))).toBe(4.8);
    // Above every finite bound: the highest one; no requests: nothing to draw.
    expect(p95(h([0, 0, 0, 10]), undefined)).toBe(100);
    expect(p95(h([5, 5, 5, 5]), h([5, 5, 5, 5]))).toBeNull();
    expect(p95(undefined, undefined)).toBeNull();
  });

  it('takes each version\'s latency from the router\'s per-route histogram and draws its p95 over time', () => {
    const route = (version: string, counts: number[]): RouteVersionStats => ({
      route: 'web/api', version, slot: 'stable', requests: counts.at(-1) ?? 0, errors: 0,
      latency: { sumSeconds: 0, count: counts.at(-1) ?? 0, buckets: [{ le: 0.005, count: counts[0] ?? 0 }, { le: 0.025, count: counts[1] ?? 0 }, { le: 0.1, count: counts[2] ?? 0 }, { le: '+Inf', count: counts[3] ?? 0 }] },
    });
    const sample = (n: number) => countersFromRouter([{ id: 'web-api-1:80', total: 100 * n, errors: 0 }, { id: 'web-api-2:80', total: 10 * n, errors: 0 }], [
      route(replicaVersion(api.specHash), [100 * n, 100 * n, 100 * n, 100 * n]),
      route(replicaVersion(NEW_SPEC), [0, 0, 10 * n, 10 * n]),
      // A version no replica runs any more: left out.
      route('0123456789ab', [1, 1, 1, 1]),
    ], replicas);
    expect(sample(1).map((c) => [c.version, c.latency?.le])).toEqual([[REV_A.slice(0, 7), [5, 25, 100, Infinity]], [REV_B.slice(0, 7), [5, 25, 100, Infinity]]]);
    const meter = new TrafficMeter();
    meter.next(sample(1), 0);
    expect(meter.next(sample(2), 1000).map((p) => [p.version, p.rps, p.p95Ms])).toEqual([[REV_A.slice(0, 7), 100, 4.8], [REV_B.slice(0, 7), 10, 96.3]]);
  });
});

describe('feed', () => {
  it('gives a new page a snapshot, then each change; progress items name their stack and service; rollouts are the status\' own', () => {
    const feed = new DashboardFeed({ repo: 'https://git.example/infra.git', commitUrl: commitUrlOf('https://git.example/infra.git') }, () => Date.parse(T));
    feed.setStatus({ stacks: [] });
    const heard: [FeedEvent, unknown][] = [];
    const stop = feed.subscribe((e, d) => heard.push([e, d]));
    expect(heard[0]?.[0]).toBe('snapshot');
    expect(heard[0]?.[1]).toMatchObject({ status: { stacks: [] }, meta: { commitUrl: 'https://git.example/infra/commit/{sha}' } });
    feed.update('pull web-api:1.4', '12/40 MB', 0.3);
    expect(heard.at(-1)).toEqual(['progress', [{ key: 'pull web-api:1.4', text: '12/40 MB', fraction: 0.3, stack: 'web', service: 'api', updatedAt: T }]]);
    feed.done('pull web-api:1.4');
    expect(heard.at(-1)).toEqual(['progress', []]);
    // A rollout's progress reaches pages as its lane's persisted step, in the status: not twice.
    feed.update('rollout web/api', '1/3 replicas updated', 1 / 3);
    expect(heard.at(-1)).toEqual(['progress', []]);
    expect(feed.watchers).toBe(1);
    stop();
    expect(feed.watchers).toBe(0);
    expect(commitUrlOf('/srv/infra')).toBeNull();
  });
});
