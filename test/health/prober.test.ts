// The prober with a scripted probe (a pure unit; real probes run in the
// healing integration test): readiness follows the results and each change
// is told (the routing table follows it), liveness is reported once, and a
// replica gone from the snapshot is no longer probed.

import { describe, expect, it } from 'vitest';
import type { ProbeSpec } from '../../src/manifests/model.js';
import { Prober, type ProbedReplica } from '../../src/health/prober.js';

const probe: ProbeSpec = { check: { kind: 'tcp', port: 80 }, intervalMs: 2, timeoutMs: 50, initialDelayMs: 0, successThreshold: 1, failureThreshold: 2 };
const replica = (id: string): ProbedReplica => ({ containerId: id, name: `web-api-${id}`, stack: 'web', service: 'api', ip: '10.0.0.1', probe });

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
}

describe('Prober', () => {
  it('marks ready, then reports a liveness failure once, and forgets vanished replicas', async () => {
    const results = new Map<string, boolean>([['1', true], ['2', true]]);
    const calls = new Map<string, number>();
    const failed: string[] = [];
    const changes: string[] = [];
    const prober = new Prober({
      onReadinessChange: (r, ready) => changes.push(`${r.name} ${ready ? 'ready' : 'not ready'}`),
      now: () => Date.now(),
      run: async (r) => {
        calls.set(r.containerId, (calls.get(r.containerId) ?? 0) + 1);
        return { ok: results.get(r.containerId) === true, output: 'x' };
      },
      onFailed: (r) => failed.push(r.name),
    });
    prober.sync('web', [replica('1'), replica('2')]);
    expect(prober.verdict('1')?.health.state).toBe('starting');
    await until(() => ['1', '2'].every((id) => prober.verdict(id)?.health.state === 'ready'));

    results.set('1', false);
    await until(() => failed.length === 1);
    expect(failed).toEqual(['web-api-1']);
    expect(changes.sort()).toEqual(['web-api-1 not ready', 'web-api-1 ready', 'web-api-2 ready']);
    expect(['1', '2'].map((id) => prober.verdict(id)?.health.state)).toEqual(['failed', 'ready']);
    const probedAfterFailure = calls.get('1');
    await new Promise((r) => setTimeout(r, 30));
    expect(calls.get('1')).toBe(probedAfterFailure);
    expect(failed).toHaveLength(1);

    prober.sync('web', [replica('1')]);
    const probes2 = calls.get('2');
    await new Promise((r) => setTimeout(r, 30));
    expect(calls.get('2')).toBe(probes2);
    prober.stop();
  });
});
