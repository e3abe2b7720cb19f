// Sends commit statuses and notifications without ever holding up a pass:
// `push` only queues. One outbox per receiver delivers in order (a commit's
// pending status never lands after its success), retries what may succeed
// later (no answer, 408, 429, 5xx) with a doubling delay, and gives up on
// what will not (any other 4xx: a bad token, an unknown repository) with one
// warning; the same refusal again is logged at debug. The queue is bounded:
// when a receiver stays away, the oldest entries go first. A newer status
// for the same commit and context replaces one still waiting. Logs name the
// receiver by host only: never a token, never a URL path (a Slack webhook's
// path is its secret).

import type { Logger } from '../logging/logger.js';
import type { HttpRequest } from './forge.js';

export interface Delivery {
  request: HttpRequest;
  /** For logs, e.g. `pending on abc1234 for capstan/prod/web`. */
  what: string;
  /** Deliveries with the same key replace each other while waiting. */
  key?: string;
}

export interface HttpAnswer {
  status: number;
  body: string;
  retryAfterMs: number | undefined;
}

export interface OutboxOptions {
  /** The receiver in logs: `GitHub at api.github.com`, `webhook at hooks.example.com`. */
  name: string;
  logger: Logger;
  capacity?: number;
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  send?: (request: HttpRequest, timeoutMs: number) => Promise<HttpAnswer>;
}

export class Outbox {
  private readonly queue: Delivery[] = [];
  private running: Promise<void> | undefined;
  private dropped = 0;
  /** The last refusal warned about: a read-only token refuses every status alike, and one warning says so. */
  private refused: string | undefined;
  private readonly o: Required<Omit<OutboxOptions, 'logger' | 'name'>>;

  constructor(private readonly opts: OutboxOptions) {
    this.o = {
      capacity: opts.capacity ?? 256,
      attempts: opts.attempts ?? 6,
      baseDelayMs: opts.baseDelayMs ?? 1000,
      maxDelayMs: opts.maxDelayMs ?? 60_000,
      timeoutMs: opts.timeoutMs ?? 10_000,
      send: opts.send ?? fetchAnswer,
    };
  }

  push(delivery: Delivery): void {
    // The head is being sent: only entries behind it may be replaced.
    const waiting = delivery.key === undefined ? -1 : this.queue.findIndex((d, i) => (i > 0 || this.running === undefined) && d.key === delivery.key);
    if (waiting >= 0) this.queue[waiting] = delivery;
    else {
      if (this.queue.length >= this.o.capacity) {
        const lost = this.queue.splice(this.running === undefined ? 0 : 1, 1)[0];
        if (this.dropped++ === 0) this.opts.logger.warn({ receiver: this.opts.name, dropped: lost?.what }, `${this.opts.name} is behind by ${this.o.capacity} messages; dropping the oldest`);
      }
      this.queue.push(delivery);
    }
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
  }

  /** Waits until everything queued was delivered or given up, or `timeoutMs` passed (shutdown). */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running ?? Promise.resolve(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private async run(): Promise<void> {
    for (let next = this.queue[0]; next !== undefined; next = this.queue[0]) {
      await this.deliver(next);
      this.queue.shift();
      if (this.queue.length === 0 && this.dropped > 0) {
        this.opts.logger.info({ receiver: this.opts.name, dropped: this.dropped }, `${this.opts.name} caught up; ${this.dropped} message${this.dropped === 1 ? ' was' : 's were'} dropped`);
        this.dropped = 0;
      }
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const log = this.opts.logger;
    const fields = { receiver: this.opts.name, what: d.what };
    for (let attempt = 1; ; attempt++) {
      let answer: HttpAnswer | undefined;
      let problem: string;
      try {
        answer = await this.o.send(d.request, this.o.timeoutMs);
        if (answer.status >= 200 && answer.status < 300) {
          log.debug({ ...fields, status: answer.status, attempt }, `sent ${d.what} to ${this.opts.name}`);
          this.refused = undefined;
          return;
        }
        problem = `HTTP ${answer.status}${answer.body === '' ? '' : `: ${answer.body.slice(0, 200)}`}`;
      } catch (err) {
        problem = errorText(err);
      }
      const retryable = answer === undefined || answer.status === 408 || answer.status === 429 || answer.status >= 500;
      if (!retryable || attempt >= this.o.attempts) {
        const line = `${this.opts.name} did not take ${d.what}: ${problem}${retryable ? ` (gave up after ${attempt} attempts)` : ''}`;
        if (problem === this.refused) log.debug({ ...fields, attempts: attempt, problem }, line);
        else log.warn({ ...fields, attempts: attempt, problem }, line);
        this.refused = problem;
        return;
      }
      const backoff = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** (attempt - 1));
      const delay = Math.min(this.o.maxDelayMs, Math.max(backoff, answer?.retryAfterMs ?? 0));
      log.debug({ ...fields, attempt, problem, retryInMs: delay }, `${this.opts.name}: ${problem}; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
  }
}

async function fetchAnswer(request: HttpRequest, timeoutMs: number): Promise<HttpAnswer> {
  const res = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  const body = (await res.text()).trim();
  const retryAfter = Number(res.headers.get('retry-after'));
  return { status: res.status, body, retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined };
}

/** fetch's own message is "fetch failed"; the reason is in its cause. Neither carries headers. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
