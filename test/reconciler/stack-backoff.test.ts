import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import type { Operation, Plan } from '../../src/plan/operations.js';
import { StackBackoff } from '../../src/reconciler/stack-backoff.js';

const network = (stack: string, cause = 'network is missing'): Operation => ({
  id: `create-network:${stack}/${stack}_default`, kind: 'create-network', stack, reason: 'network-missing', cause, phase: 0,
  network: { name: 'default', engineName: `${stack}_default`, external: false, driver: undefined, labels: {} },
});
const plan = (...operations: Operation[]): Plan => ({ revision: 'a'.repeat(40), instance: 'i', operations, services: [], heldBack: [], heldRollouts: [] });
const failure = (stack: string, message = 'the subnet pool is exhausted') => ({ stack, operation: `create network ${stack}_default`, error: new Error(message) });

describe('backing off a stack that keeps failing the same way', () => {
  it('leaves a stack out for 1 s, 2 s, 4 s … while it fails the same way, and reports its last failure meanwhile', () => {
    const b = new StackBackoff(silentLogger());
    const p = plan(network('web'), network('jobs'));
    b.record(p, [failure('web')], 0);
    expect(b.isRepeat('web', 'create network web_default', new Error('the subnet pool is exhausted'))).toBe(true);
    const early = b.split(p, 500);
    expect(early.plan.operations.map((o) => o.stack)).toEqual(['jobs']);
    expect(early.waiting.map((f) => f.error.message)).toEqual(['the subnet pool is exhausted']);
    expect(b.split(p, 1000).waiting).toEqual([]);
    b.record(p, [failure('web')], 1000);
    expect(b.split(p, 2999).waiting).toHaveLength(1);
    expect(b.split(p, 3000).waiting).toHaveLength(0);
  });

  it('retries at once when the stack fails another way, its plan changes, or it succeeded', () => {
    const b = new StackBackoff(silentLogger());
    const p = plan(network('web'));
    b.record(p, [failure('web')], 0);
    b.record(p, [failure('web')], 1000);
    expect(b.split(plan(network('web', 'a new commit')), 1001).waiting).toEqual([]);
    b.record(p, [failure('web', 'engine said no')], 1001);
    expect(b.isRepeat('web', 'create network web_default', new Error('the subnet pool is exhausted'))).toBe(false);
    expect(b.split(p, 2001).waiting).toEqual([]);
    b.record(p, [], 2001);
    expect(b.split(p, 2002).waiting).toEqual([]);
  });
});
