// The dashboard's data, pure: events derived from two passes' status
// documents, traffic rates from cumulative router counters, and the feed a
// page hears (snapshot first, then each change).

import { describe, expect, it } from 'vitest';
import type { Condition, StackStatus } from '../../src/status/model.js';
import { commitUrlOf, DashboardFeed, type FeedEvent } from '../../src/server/dashboard/feed.js';
import { eventsBetween } from '../../src/server/dashboard/ops-events.js';
import { countersFromRouterStats, TrafficMeter } from '../../src/server/dashboard/traffic.js';
import { desiredService, observedReplica, REV_A, REV_B } from '../helpers/specs.js';

const T = '2026-12-01T10:00:00.000Z';
const cond = (type: Condition['type'], status: Condition['status'], reason: string, message = ''): Condition => ({ type, status, reason, message, lastTransitionTime: T });
const doc = (applied: string | undefined, attempted: string, conditions: Condition[]): StackStatus => ({ stack: 'web', lastAppliedRevision: applied, lastAttemptedRevision: attempted, conditions, services: {} });
const READY = [cond('Ready', 'True', 'Converged', '1/1 services ready')];

describe('events between passes', () => {
  it('a deploy, a rollback, a pull failure, a crash loop beginning and ending', () => {
    expect(eventsBetween([], [doc(REV_A, REV_A, READY)], T).map((e) => [e.kind, e.message])).toEqual([['deployed', `web runs ${REV_A.slice(0, 7)}`]]);
    const rolledBack = doc(REV_A, REV_B, [cond('Ready', 'False', 'ApplyFailed', 'x'), cond('Degraded', 'True', 'RolledBack', 'bbbbbbb was rolled back: probe failed')]);
    expect(eventsBetween([doc(REV_A, REV_A, READY)], [rolledBack], T).map((e) => [e.kind, e.bad])).toEqual([['rolled-back', true]]);
    // The same condition on the next pass is no news.
    expect(eventsBetween([rolledBack], [rolledBack], T)).toEqual([]);
    const pull = doc(REV_A, REV_B, [cond('Ready', 'False', 'ApplyFailed', 'create web-api-1: E_IMAGE_PULL cannot pull example/api:2: denied')]);
    expect(eventsBetween([doc(REV_A, REV_A, READY)], [pull], T).map((e) => e.kind)).toEqual(['pull-failed']);
    const looping = doc(REV_A, REV_A, [cond('Ready', 'False', 'CrashLoop'), cond('Degraded', 'True', 'CrashLoop', 'web-api-1 is crash-looping (exit code 3)')]);
    expect(eventsBetween([doc(REV_A, REV_A, READY)], [looping], T).map((e) => e.kind)).toEqual(['crash-loop']);
    expect(eventsBetween([looping], [doc(REV_A, REV_A, READY)], T).map((e) => e.kind)).toEqual(['crash-loop-ended', 'recovered']);
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
