// How both daemons (`run` on one engine, on a swarm) stop: the first SIGTERM
// or SIGINT lets the pass in flight finish, then everything closes.

import type { Logger } from '../logging/logger.js';

/** Aborted by the first SIGTERM or SIGINT: the daemon finishes the pass in flight, then stops. */
export function stopOnSignals(logger: Logger): AbortController {
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stopping after the pass in flight');
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  return stop;
}
