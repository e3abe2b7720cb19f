// StatusReporter's decisions about writing (DESIGN §5, issue 14 item 3): a
// lane pass that ended converged, failed or held commits its stack's file
// when it changed; a pass in between (a deploy making progress) commits only
// when a condition's type, status or reason changed — so a cold deploy of a
// 3-replica service is two commits, not four; an idle pass writes nothing;
// content that failed to push is not retried on every pass; lanes finishing
// while a commit is pushed share the next one. The writer is a recording
// stand-in; Git itself is covered by the integration tests.

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import type { LaneOutcomeKind, StackReport } from '../../src/status/reporter.js';
import { StatusReporter } from '../../src/status/reporter.js';
import type { ServiceStatus } from '../../src/status/model.js';
import { REV_A, REV_B } from '../helpers/specs.js';

function reporter(opts: { fail?: boolean; slow?: () => Promise<void> } = {}) {
  const writes: string[][] = [];
  let clock = Date.parse('2026-11-25T10:00:00Z');
  const r = new StatusReporter({
    instance: 'prod',
    version: '0.1.0',
    backend: 'docker',
    writer: {
      read: () => Promise.resolve(new Map()),
      write: async (files) => {
        writes.push([...files.keys()]);
        await opts.slow?.();
        if (opts.fail === true) throw new Error('HTTP 403');
        return 'c'.repeat(40);
      },
    },
    autoRevert: undefined,
    logger: silentLogger(),
    now: () => clock,
  });
  return { r, writes, tick: (ms: number) => (clock += ms) };
}

const api = (ready: number, desired = 3): Record<string, ServiceStatus> => ({ api: { image: 'example/api:1', specHash: 'h', replicas: { desired, running: desired, ready } } });

/** A lane pass of `stack` that found the service with `ready` of 3 replicas ready. */
function pass(outcome: LaneOutcomeKind, ready: number, revision = REV_A, stack = 'web'): StackReport {
  return {
    outcome,
    input: { stack, revision, outcome: { kind: 'applied' }, services: api(ready), containers: [], converged: outcome === 'converged' },
    health: undefined,
    progress: [],
  };
}

describe('StatusReporter', () => {
  it('commits a cold deploy of 3 replicas twice: when it starts (Reconciling appears) and when it converged, not at 1/3 and 2/3', async () => {
    const { r, writes } = reporter();
    await r.report('web', pass('progressing', 0));
    await r.report('web', pass('progressing', 1));
    await r.report('web', pass('progressing', 2));
    expect(writes).toHaveLength(1);
    expect(r.snapshot().stacks[0]?.services['api']?.replicas.ready).toBe(2);
    await r.report('web', pass('converged', 3));
    expect(writes).toHaveLength(2);
    expect(r.snapshot().stacks[0]?.lastAppliedRevision).toBe(REV_A);
    expect(r.commits).toBe(2);
  });

  it('writes nothing on idle passes, and once for the next revision', async () => {
    const { r, writes, tick } = reporter();
    await r.report('web', pass('converged', 3));
    tick(30_000);
    await r.report('web', pass('converged', 3));
    await r.report('web', pass('converged', 3));
    expect(writes).toEqual([['status/web.yaml', 'status/_operator.yaml']]);
    await r.report('web', pass('converged', 3, REV_B));
    expect(writes).toHaveLength(2);
    // The sync time moves on, but only for the API.
    expect(r.snapshot().lastSyncTime).toBe(Date.parse('2026-11-25T10:00:30Z'));
  });

  it('keeps rollout progress in the API only', async () => {
    const { r, writes } = reporter();
    await r.report('web', pass('converged', 3));
    const progress = { id: 'web/api@1', stack: 'web', service: 'api', strategy: 'rolling', revision: REV_B, direction: 'forward' as const, batch: 1, batches: 3, phase: 'monitoring', since: 1, nextStepAt: 2 };
    await r.report('web', { ...pass('progressing', 2, REV_B), progress: [progress] });
    await r.report('web', { ...pass('progressing', 2, REV_B), progress: [{ ...progress, batch: 2 }] });
    expect(r.snapshot().progress).toEqual([{ ...progress, batch: 2 }]);
    // One commit when the deploy began (Ready went False), none per batch.
    expect(writes).toHaveLength(2);
    await r.report('web', pass('converged', 3, REV_B));
    expect(r.snapshot().progress).toEqual([]);
    expect(writes).toHaveLength(3);
  });

  it('does not retry content that failed to push on every pass', async () => {
    const { r, writes, tick } = reporter({ fail: true });
    await r.report('web', pass('converged', 3));
    tick(1_000);
    await r.report('web', pass('converged', 3));
    expect(writes).toHaveLength(1);
    tick(60_000);
    await r.report('web', pass('converged', 3));
    expect(writes).toHaveLength(2);
  });

  it('puts the files of lanes that finish while a commit is pushed into one next commit', async () => {
    let release: () => void = () => undefined;
    let first = true;
    const { r, writes } = reporter({ slow: () => (first ? ((first = false), new Promise<void>((resolve) => (release = resolve))) : Promise.resolve()) });
    const one = r.report('a', pass('converged', 3, REV_A, 'a'));
    await new Promise((resolve) => setImmediate(resolve));
    const two = r.report('b', pass('converged', 3, REV_A, 'b'));
    const three = r.report('c', pass('converged', 3, REV_A, 'c'));
    release();
    await Promise.all([one, two, three]);
    await r.settled();
    expect(writes).toEqual([['status/a.yaml', 'status/_operator.yaml'], ['status/b.yaml', 'status/c.yaml']]);
  });

  it('never holds a lane on a push that hangs (a Git server stalling mid-response)', async () => {
    let release: () => void = () => undefined;
    const { r, writes } = reporter({ slow: () => new Promise<void>((resolve) => (release = resolve)) });
    await r.report('web', pass('converged', 3));
    expect(writes).toHaveLength(1);
    expect(r.commits).toBe(0);
    expect(r.snapshot().stacks[0]?.lastAppliedRevision).toBe(REV_A);
    release();
    await r.settled();
    expect(r.commits).toBe(1);
  });

  it('removes the file of a stack that left Git and the engine', async () => {
    const { r, writes } = reporter();
    await r.report('web', pass('converged', 3));
    await r.report('web', { ...pass('converged', 0), gone: true });
    expect(writes).toHaveLength(2);
    expect(r.snapshot().stacks).toEqual([]);
  });
});
