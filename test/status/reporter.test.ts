// StatusReporter's decisions about writing: an idle pass writes nothing, a
// change writes once, and content that failed to push is not retried on every
// pass. The writer is a recording stand-in; Git itself is covered by the
// integration tests.

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import type { ObservedState } from '../../src/observed/model.js';
import { StatusReporter } from '../../src/status/reporter.js';
import { REV_A, REV_B, desiredService, desiredStack, desiredState, observedReplica } from '../helpers/specs.js';

const api = desiredService('web', 'api');
const observed: ObservedState = { instance: 'test', containers: [observedReplica(api, 1)], networks: [], volumes: [] };
const pass = (revision: string) => ({ revision, applied: 0, desired: desiredState(revision, [desiredStack('web', [api])]), observed, plan: { operations: [], heldRollouts: [] } });

function reporter(opts: { fail?: boolean } = {}) {
  const writes: string[][] = [];
  let clock = Date.parse('2026-11-25T10:00:00Z');
  const r = new StatusReporter({
    instance: 'prod',
    version: '0.1.0',
    backend: 'docker',
    writer: {
      read: () => Promise.resolve(new Map()),
      write: (files) => {
        writes.push([...files.keys()]);
        return opts.fail ? Promise.reject(new Error('HTTP 403')) : Promise.resolve('c'.repeat(40));
      },
    },
    observe: () => Promise.resolve(observed),
    loadDesired: () => Promise.reject(new Error('not used')),
    autoRevert: undefined,
    logger: silentLogger(),
    now: () => clock,
  });
  return { r, writes, tick: (ms: number) => (clock += ms) };
}

describe('StatusReporter', () => {
  it('writes once for a change and not at all on idle passes', async () => {
    const { r, writes, tick } = reporter();
    await r.report(pass(REV_A));
    tick(30_000);
    await r.report(pass(REV_A));
    await r.report(pass(REV_A));
    expect(writes).toEqual([['status/_operator.yaml', 'status/web.yaml']]);
    await r.report(pass(REV_B));
    expect(writes).toHaveLength(2);
    // The sync time moves on, but only for the API.
    expect(r.snapshot().lastSyncTime).toBe(Date.parse('2026-11-25T10:00:30Z'));
  });

  it('does not retry content that failed to push on every pass', async () => {
    const { r, writes, tick } = reporter({ fail: true });
    await r.report(pass(REV_A));
    tick(1_000);
    await r.report(pass(REV_A));
    expect(writes).toHaveLength(1);
    tick(60_000);
    await r.report(pass(REV_A));
    expect(writes).toHaveLength(2);
  });
});
