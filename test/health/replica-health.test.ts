import { describe, expect, it } from 'vitest';
import { initialHealth, probeDue, recordProbe, type HealthThresholds, type ReplicaHealth } from '../../src/health/replica-health.js';

const t: HealthThresholds = { initialDelayMs: 2000, successThreshold: 2, failureThreshold: 3 };
const pass = { ok: true, output: 'HTTP 200' };
const fail = { ok: false, output: 'HTTP 404' };

function feed(h: ReplicaHealth, results: readonly boolean[], start: number): ReplicaHealth {
  let now = start;
  for (const ok of results) h = recordProbe(h, ok ? pass : fail, (now += 1000), t);
  return h;
}

describe('replica health state machine', () => {
  it('ignores probes inside initial_delay', () => {
    const h = initialHealth(0);
    expect(probeDue(h, 1999, t)).toBe(false);
    expect(recordProbe(h, pass, 1000, t)).toBe(h);
    expect(probeDue(h, 2000, t)).toBe(true);
  });

  it('becomes ready only after success_threshold consecutive passes', () => {
    let h = recordProbe(initialHealth(0), pass, 2000, t);
    expect(h.state).toBe('starting');
    h = recordProbe(h, fail, 3000, t);
    h = recordProbe(h, pass, 4000, t);
    expect(h.state).toBe('starting');
    h = recordProbe(h, pass, 5000, t);
    expect(h.state).toBe('ready');
    expect(h.wasReady).toBe(true);
  });

  it('a ready replica goes unready at the first failure and failed at failure_threshold', () => {
    let h = feed(initialHealth(0), [true, true], 1000);
    expect(h.state).toBe('ready');
    h = feed(h, [false], 5000);
    expect(h.state).toBe('unready');
    expect(h.lastOutput).toBe('HTTP 404');
    h = feed(h, [false, false], 6000);
    expect(h.state).toBe('failed');
    // failed is terminal: the replica is replaced, not revived by a late pass.
    expect(feed(h, [true, true, true], 9000).state).toBe('failed');
  });

  it('an unready replica recovers with success_threshold passes', () => {
    const h = feed(initialHealth(0), [true, true, false, false, true, true], 1000);
    expect(h.state).toBe('ready');
    expect(h.failures).toBe(0);
  });

  it('a replica never ready is unready, not failed, after failure_threshold', () => {
    const h = feed(initialHealth(0), [false, false, false, false], 1000);
    expect(h.state).toBe('unready');
    expect(h.wasReady).toBe(false);
  });
});
