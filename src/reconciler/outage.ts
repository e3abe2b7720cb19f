// A failure that lasts — Git unreachable, the Docker engine gone — is said
// once when it starts or changes and once when it ends, not on every poll or
// lane retry (a 1 s interval printed a line a second); /api/status carries
// it throughout. The same failure again is logged at debug.

import type { Logger } from '../logging/logger.js';
import { logPassError } from './log-error.js';

export class Outage {
  /** The message of the failure under way, if any. */
  private current: string | undefined;

  constructor(private readonly logger: Logger, private readonly what: string) {}

  get ongoing(): boolean {
    return this.current !== undefined;
  }

  failed(error: Error): void {
    if (error.message === this.current) this.logger.debug({ err: error.message }, `${this.what} still fails the same way`);
    else logPassError(this.logger, error);
    this.current = error.message;
  }

  /** Ends the outage, if one is under way, with `line`. */
  recovered(line: string, fields: Record<string, unknown> = {}): void {
    if (this.current === undefined) return;
    this.current = undefined;
    this.logger.info(fields, line);
  }
}
