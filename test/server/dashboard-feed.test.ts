// The dashboard's data, pure: its events (the deploy events, typed), traffic
// rates from cumulative router counters, and the feed a page hears (snapshot
// first, then each change).

import { describe, expect, it } from 'vitest';
import type { DeployEvent } from '../../src/events/model.js';
import { commitUrlOf, DashboardFeed, type FeedEvent } from '../../src/server/dashboard/feed.js';
import { opsEventOf } from '../../src/server/dashboard/ops-events.js';
import { countersFromRouterStats, TrafficMeter } from '../../src/server/dashboard/traffic.js';
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
  const replicas = [observedReplica(api, 1), { ...observedReplica(api, 2, { revision: REV_B }) }];

  it('sums router backends per service and revision, and turns two samples into rates', () => {
    const counters = (a: number, b: number) => countersFromRouterStats([
      { id: 'web-api-1:80', total: a, errors: 1 }, { id: 'web-api-2-next:80', total: b, errors: 0 }, { id: 'unknown-1:80', total: 99, errors: 9 },
    ], replicas);
    expect(counters(10, 5).map((c) => [c.version, c.requests])).toEqual([[REV_A.slice(0, 7), 10], [REV_B.slice(0, 7), 5]]);
    const meter = new TrafficMeter();
    expect(meter.next(counters(10, 5), 1_000)).toEqual([]);
    const points = meter.next(counters(30, 15), 3_000);
    expect(points.map((p) => [p.version, p.rps, p.errorRate, p.p95Ms])).toEqual([[REV_A.slice(0, 7), 10, 0, null], [REV_B.slice(0, 7), 5, 0, null]]);
    // Counts that went down (a backend left the table, the router restarted) skip the interval instead of a spike.
    expect(meter.next(counters(2, 15), 5_000)[0]?.rps).toBe(0);
  });

  it('p95 from a latency histogram when the source has one', () => {
    const meter = new TrafficMeter();
    const c = (counts: number[]) => [{ stack: 'web', service: 'api', version: 'aaaaaaa', requests: counts.at(-1) ?? 0, errors: 0, latency: { le: [5, 25, 100, Infinity], counts } }];
    meter.next(c([0, 0, 0, 0]), 0);
    expect(meter.next(c([50, 90, 99, 100]), 1000)[0]?.p95Ms).toBe(100);
  });
});

describe('feed', () => {
  it('gives a new page a snapshot, then each change; progress items name their stack and service', () => {
    const feed = new DashboardFeed({ repo: 'https://git.example/infra.git', commitUrl: commitUrlOf('https://git.example/infra.git') }, () => Date.parse(T));
    feed.setStatus({ stacks: [] });
    const heard: [FeedEvent, unknown][] = [];
    const stop = feed.subscribe((e, d) => heard.push([e, d]));
    expect(heard[0]?.[0]).toBe('snapshot');
    expect(heard[0]?.[1]).toMatchObject({ status: { stacks: [] }, meta: { commitUrl: 'https://git.example/infra/commit/{sha}' } });
    feed.update('rollout web/api', '1/3 replicas updated', 1 / 3);
    expect(heard.at(-1)).toEqual(['progress', [{ key: 'rollout web/api', text: '1/3 replicas updated', fraction: 1 / 3, stack: 'web', service: 'api', updatedAt: T }]]);
    feed.done('rollout web/api');
    expect(heard.at(-1)).toEqual(['progress', []]);
    expect(feed.watchers).toBe(1);
    stop();
    expect(feed.watchers).toBe(0);
    expect(commitUrlOf('/srv/infra')).toBeNull();
  });
});
