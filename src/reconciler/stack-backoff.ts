// Backs off a stack that keeps failing the same way (issue 14 item 7): with
// sixty stacks and no address left for some of their networks, every pass
// retried them all and logged the same hundred errors. Here a stack whose
// operations failed is retried after 1 s, then — while it fails with the
// same errors — after twice as long each time, up to 5 minutes; meanwhile
// its operations are left out of passes and its last errors reported again,
// so status keeps saying why. Logs follow changes of state: a failure seen
// before is logged at debug only; backing off, a new failure and recovery
// get one line each. Any change to the stack's plan (a new commit, a heal)
// ends the wait. Pure: time comes in with each call; the daemon keeps one.

import type { Logger } from '../logging/logger.js';
import type { Operation, Plan } from '../plan/operations.js';
import { describeOperation } from '../plan/render.js';

export interface StackFailure {
  operation: string;
  error: Error;
  stack: string;
}

interface Failing {
  /** The failures as text, and the plan they came from: the same key again is "the same way". */
  key: string;
  planKey: string;
  failures: StackFailure[];
  attempts: number;
  retryAt: number;
}

const BASE_MS = 1000;
const CAP_MS = 300_000;

export class StackBackoff {
  private readonly failing = new Map<string, Failing>();

  constructor(private readonly logger: Logger) {}

  /** The plan without the stacks that wait, and the failures those stacks still stand for. */
  split(plan: Plan, nowMs: number): { plan: Plan; waiting: StackFailure[] } {
    const waiting: StackFailure[] = [];
    const held = new Set<string>();
    for (const [stack, f] of this.failing) {
      const ops = plan.operations.filter((o) => o.stack === stack);
      if (ops.length > 0 && nowMs < f.retryAt && planKey(ops) === f.planKey) {
        held.add(stack);
        waiting.push(...f.failures);
      }
    }
    if (held.size === 0) return { plan, waiting };
    return { plan: { ...plan, operations: plan.operations.filter((o) => !held.has(o.stack)) }, waiting };
  }

  /** When a stack that keeps failing is tried again (ms), if it waits. */
  retryAt(stack: string): number | undefined {
    return this.failing.get(stack)?.retryAt;
  }

  /** Whether this failure was already reported the last time the stack failed (then it is logged at debug). */
  isRepeat(stack: string, operation: string, error: Error): boolean {
    return this.failing.get(stack)?.failures.some((f) => f.operation === operation && f.error.message === error.message) === true;
  }

  /** After applying `plan`: each stack it touched failed with `failures`, or not. */
  record(plan: Plan, failures: readonly StackFailure[], nowMs: number): void {
    for (const stack of new Set(plan.operations.map((o) => o.stack))) {
      const mine = failures.filter((f) => f.stack === stack);
      const before = this.failing.get(stack);
      if (mine.length === 0) {
        if (before !== undefined) {
          this.failing.delete(stack);
          this.logger.info({ stack, attempts: before.attempts }, `${stack}: applied after ${before.attempts} failed attempt${before.attempts === 1 ? '' : 's'}`);
        }
        continue;
      }
      const key = mine.map((f) => `${f.operation}\u0000${f.error.message}`).sort().join('\n');
      const ops = planKey(plan.operations.filter((o) => o.stack === stack));
      const attempts = before?.key === key ? before.attempts + 1 : 1;
      const delay = Math.min(CAP_MS, BASE_MS * 2 ** (attempts - 1));
      this.failing.set(stack, { key, planKey: ops, failures: mine, attempts, retryAt: nowMs + delay });
      if (attempts === 2) {
        this.logger.warn({ stack, failures: mine.length }, `${stack} fails the same way again; retrying it less and less often (up to every ${CAP_MS / 60_000} min) until it succeeds or its plan changes`);
      }
    }
  }
}

/** What a stack's operations would do, in the plan's own words. */
function planKey(ops: readonly Operation[]): string {
  return ops.map(describeOperation).sort().join('\n');
}
