// The daemon's loop: passes are serialized, triggers (poll timer, later
// webhooks and events) arriving during a pass are coalesced into one more
// pass, and failures back off (1 s doubling, capped at the interval) while
// what runs keeps running.

import { CapstanError, ManifestsInvalidError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { PassResult } from './pass.js';

export interface LoopOptions {
  intervalMs: number;
  logger: Logger;
  pass: () => Promise<PassResult>;
  /** Called after every pass, good or bad (status, metrics). */
  onPass?: (result: PassResult | Error) => void;
}

export class ReconcileLoop {
  private pending = true;
  private wake: (() => void) | undefined;
  private failures = 0;
  /** The last error reported at full volume: the same one again (a bad commit, polled) is logged at debug only. */
  private lastError: string | undefined;

  constructor(private readonly opts: LoopOptions) {}

  /** Ask for a pass as soon as the current one (if any) ends. */
  trigger(reason: string): void {
    this.opts.logger.debug({ reason }, 'pass requested');
    this.pending = true;
    this.wake?.();
  }

  /** Runs until `signal` aborts; the pass in flight is finished, never cut in half. */
  async run(signal: AbortSignal): Promise<void> {
    const onAbort = (): void => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        if (this.pending) {
          this.pending = false;
          await this.runOnePass();
        }
        if (signal.aborted) break;
        if (!this.pending) await this.sleep(this.delayMs());
        this.pending = true;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async runOnePass(): Promise<void> {
    const { logger } = this.opts;
    try {
      const result = await this.opts.pass();
      this.failures = 0;
      this.lastError = undefined;
      this.opts.onPass?.(result);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      // A bad commit will not get better by retrying: wait for the next one at the normal pace.
      if (!(error instanceof ManifestsInvalidError)) this.failures++;
      const key = `${error.name}:${error.message}`;
      if (key === this.lastError) logger.debug({ err: error }, `still failing: ${error.message}`);
      else logPassError(logger, error);
      this.lastError = key;
      this.opts.onPass?.(error);
    }
  }

  private delayMs(): number {
    if (this.failures === 0) return this.opts.intervalMs;
    return Math.min(this.opts.intervalMs, 1000 * 2 ** Math.min(this.failures - 1, 16));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}

export function logPassError(logger: Logger, error: Error): void {
  if (error instanceof ManifestsInvalidError) {
    for (const e of error.errors) logger.error({ file: e.file, line: e.line, col: e.col, code: e.code }, e.format());
    logger.error({ code: error.code, ...error.data }, `${error.message}; the last good revision keeps running`);
  } else if (error instanceof CapstanError) {
    logger.error({ code: error.code, ...error.data }, `${error.message}${error.hint ? ` (${error.hint})` : ''}`);
  } else {
    logger.error({ err: error }, `pass failed: ${error.message}`);
  }
}
