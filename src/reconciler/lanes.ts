// One lane per stack (DESIGN §4 "Lanes"): at most one pass per stack at a
// time, stacks side by side. A wake that arrives while the lane's pass runs
// is kept and answered by one more pass right after it (bursts coalesce); a
// pass may ask to be run again at a time (a rollout step's next moment, a
// crash-loop backoff ending), and the earliest such time wins. A lane that
// throws is retried with backoff and never stops the others. Time and timers
// are injected, so the scheduler is tested without waiting.

import { doublingDelayMs } from '../backoff.js';

/** What a lane pass tells the scheduler: when to run again by itself (ms since the epoch), if at all. */
export interface LaneRun {
  requeueAt?: number | undefined;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface LaneSchedulerOptions {
  /** One pass of one stack; `reasons` are the wakes it answers (oldest first). */
  pass: (stack: string, reasons: readonly string[]) => Promise<LaneRun>;
  /** A pass that threw (a bug, or the engine gone): logged by the caller; the lane is retried with backoff. */
  onError: (stack: string, error: Error) => void;
  timers?: Timers;
  /** The longest a failing lane waits before it is tried again. */
  maxRetryMs: number;
}

/** What /api/status shows of a lane. */
export interface LaneInfo {
  stack: string;
  running: boolean;
  /** Wakes waiting for the next pass. */
  pending: number;
  /** When the lane runs again by itself (ms), if it asked to. */
  nextAt: number | undefined;
  passes: number;
  failures: number;
}

interface Lane {
  stack: string;
  running: Promise<void> | undefined;
  reasons: string[];
  timer: unknown;
  timerAt: number | undefined;
  passes: number;
  /** Passes in a row that threw. */
  failures: number;
}

export class LaneScheduler {
  private readonly lanes = new Map<string, Lane>();
  private readonly timers: Timers;
  private stopped = false;
  /** Resolvers of idle(): called whenever a lane finishes and none runs or is due at once. */
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: LaneSchedulerOptions) {
    this.timers = opts.timers ?? REAL_TIMERS;
  }

  /** Asks for a pass of `stack` as soon as its lane is free. */
  wake(stack: string, reason: string): void {
    if (this.stopped) return;
    const lane = this.lane(stack);
    lane.reasons.push(reason);
    if (lane.running === undefined) this.start(lane);
  }

  /** Runs `stack` again at `at` (ms since the epoch) unless something wakes it first; an earlier request wins. */
  requeue(stack: string, at: number): void {
    if (this.stopped) return;
    const lane = this.lane(stack);
    if (lane.timerAt !== undefined && lane.timerAt <= at) return;
    if (lane.timer !== undefined) this.timers.clearTimeout(lane.timer);
    lane.timerAt = at;
    lane.timer = this.timers.setTimeout(() => {
      lane.timer = undefined;
      lane.timerAt = undefined;
      this.wake(stack, 'requeued');
    }, Math.max(0, at - this.timers.now()));
  }

  /** Forgets a stack that left Git and whose lane has nothing more to do. */
  forget(stack: string): void {
    const lane = this.lanes.get(stack);
    if (lane === undefined || lane.running !== undefined || lane.reasons.length > 0 || lane.timer !== undefined) return;
    this.lanes.delete(stack);
  }

  stacks(): string[] {
    return [...this.lanes.keys()].sort();
  }

  info(): LaneInfo[] {
    return [...this.lanes.values()]
      .map((l) => ({ stack: l.stack, running: l.running !== undefined, pending: l.reasons.length, nextAt: l.timerAt, passes: l.passes, failures: l.failures }))
      .sort((a, b) => (a.stack < b.stack ? -1 : 1));
  }

  /** Resolves once no lane runs and none has a wake pending (timers may still be set). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** No new passes start; resolves when the passes in flight have finished (never cut in half). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      if (lane.timer !== undefined) this.timers.clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.timerAt = undefined;
      lane.reasons = [];
    }
    await Promise.all([...this.lanes.values()].map((l) => l.running));
  }

  private lane(stack: string): Lane {
    let lane = this.lanes.get(stack);
    if (lane === undefined) {
      lane = { stack, running: undefined, reasons: [], timer: undefined, timerAt: undefined, passes: 0, failures: 0 };
      this.lanes.set(stack, lane);
    }
    return lane;
  }

  private start(lane: Lane): void {
    const reasons = lane.reasons;
    lane.reasons = [];
    lane.running = this.runOnce(lane, reasons).finally(() => {
      lane.running = undefined;
      if (!this.stopped && lane.reasons.length > 0) this.start(lane);
      else if (this.isIdle()) this.notifyIdle();
    });
  }

  private async runOnce(lane: Lane, reasons: readonly string[]): Promise<void> {
    lane.passes++;
    try {
      const run = await this.opts.pass(lane.stack, reasons);
      lane.failures = 0;
      if (run.requeueAt !== undefined) this.requeue(lane.stack, run.requeueAt);
    } catch (err) {
      lane.failures++;
      this.opts.onError(lane.stack, err instanceof Error ? err : new Error(String(err)));
      this.requeue(lane.stack, this.timers.now() + doublingDelayMs(lane.failures, 1000, this.opts.maxRetryMs));
    }
  }

  private isIdle(): boolean {
    return [...this.lanes.values()].every((l) => l.running === undefined && l.reasons.length === 0);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
