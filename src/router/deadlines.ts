// Timeouts for many connections without a timer each: every connection has a
// `deadline` (ms) that its own code moves as it goes (a field write, which the
// hot path can afford where a timer per socket, pushed back at every read and
// write, cost throughput), and one sweep per tick expires those whose
// deadline passed. `now` is the time of the last tick, so setting a deadline
// reads no clock; a deadline is met within one tick (at most 1 s, less when
// the timeouts are shorter). Many deadlines passing at once (thousands of
// slowloris connections opened together) are expired in batches with a turn
// of the event loop between them, so requests in progress are not held up
// behind the whole burst.

export interface Expiring {
  /** ms since the epoch; Infinity: none. */
  deadline: number;
  /** The deadline passed: close what is left. */
  expire(): void;
}

/** Expired per turn of the event loop. */
const BATCH = 128;

export class Deadlines {
  /** The time of the last tick. */
  now = Date.now();
  private readonly members = new Set<Expiring>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  /** `shortestMs`: the shortest timeout in use; a tick is a quarter of it, between 10 ms and 1 s. */
  constructor(shortestMs: number) {
    this.tickMs = Math.max(10, Math.min(1_000, Math.floor(shortestMs / 4)));
  }

  add(e: Expiring): void {
    this.members.add(e);
    if (this.timer === undefined) {
      this.now = Date.now();
      this.timer = setInterval(() => this.tick(), this.tickMs).unref();
    }
  }

  delete(e: Expiring): void {
    this.members.delete(e);
  }

  get size(): number {
    return this.members.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = (this.now = Date.now());
    if (this.members.size === 0) {
      this.stop();
      return;
    }
    if (this.sweeping) return;
    const due: Expiring[] = [];
    for (const e of this.members) if (e.deadline <= now) due.push(e);
    if (due.length > 0) this.expire(due, 0);
  }

  private expire(due: readonly Expiring[], from: number): void {
    const to = Math.min(due.length, from + BATCH);
    // One that moved its deadline or left since the sweep found it is spared.
    for (let i = from; i < to; i++) if (due[i]!.deadline <= this.now && this.members.has(due[i]!)) due[i]!.expire();
    this.sweeping = to < due.length;
    if (this.sweeping) setImmediate(() => this.expire(due, to));
  }
}
