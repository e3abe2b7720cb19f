// The one definition of readiness, which the routing table, status,
// rollouts and healing share: engine state first, then Docker's
// healthcheck, then the probe's verdict — and what a replica that is not
// ready waits on, or why it will not get there.

import { describe, expect, it } from 'vitest';
import { initialHealth, presumedReadyHealth, recordProbe } from '../../src/health/replica-health.js';
import { isReady, replicaReadiness } from '../../src/health/readiness.js';

const replica = (over: Partial<Parameters<typeof replicaReadiness>[0]> = {}) => ({ name: 'web-api-1', state: 'running' as const, health: undefined, lastRun: undefined, ...over });
const check = { kind: 'http' as const, path: '/healthz', port: 8080, host: undefined };
const thresholds = { initialDelayMs: 0, successThreshold: 1, failureThreshold: 2 };

describe('replica readiness', () => {
  it('is ready when running, with no healthcheck or a healthy one, and no probe', () => {
    expect(replicaReadiness(replica(), undefined)).toEqual({ kind: 'ready' });
    expect(isReady(replica({ health: 'healthy' }), undefined)).toBe(true);
  });

  it('waits on a replica that is created or whose healthcheck is still starting', () => {
    expect(replicaReadiness(replica({ state: 'created' }), undefined)).toEqual({ kind: 'waiting', why: 'web-api-1 is created' });
    expect(replicaReadiness(replica({ health: 'starting' }), undefined)).toEqual({ kind: 'waiting', why: "web-api-1's healthcheck is still starting" });
  });

  it('calls an exited, restarting or unhealthy replica failed, with why', () => {
    const lastRun = { startedAt: 1, finishedAt: 2, exitCode: 3, oomKilled: false };
    expect(replicaReadiness(replica({ state: 'exited', lastRun }), undefined)).toEqual({ kind: 'failed', reason: 'web-api-1 exited with code 3' });
    expect(replicaReadiness(replica({ state: 'restarting' }), undefined)).toEqual({ kind: 'failed', reason: 'web-api-1 is restarting after it exited' });
    expect(replicaReadiness(replica({ health: 'unhealthy' }), undefined)).toEqual({ kind: 'failed', reason: 'web-api-1 is unhealthy (its healthcheck fails)' });
  });

  it('follows the probe: not yet until it passed, ready once it has, failed once liveness gave up on it', () => {
    expect(replicaReadiness(replica(), { check, health: undefined })).toEqual({ kind: 'waiting', why: 'web-api-1 has not passed its probe (http GET :8080/healthz)' });
    const refused = recordProbe(initialHealth(0), { ok: false, output: 'connection refused' }, 10, thresholds);
    expect(replicaReadiness(replica(), { check, health: refused })).toEqual({ kind: 'waiting', why: 'web-api-1 has not passed its probe (http GET :8080/healthz): connection refused' });
    const ready = recordProbe(refused, { ok: true, output: 'HTTP 200' }, 20, thresholds);
    expect(replicaReadiness(replica(), { check, health: ready })).toEqual({ kind: 'ready' });
    const failed = [1, 2].reduce((h, t) => recordProbe(h, { ok: false, output: 'HTTP 500' }, 20 + t, thresholds), ready);
    expect(replicaReadiness(replica(), { check, health: failed })).toEqual({ kind: 'failed', reason: 'web-api-1 failed its probe (http GET :8080/healthz): HTTP 500' });
    // Served before an operator restart: ready until a probe says otherwise.
    expect(isReady(replica(), { check, health: presumedReadyHealth(0) })).toBe(true);
  });
});
