// The one doubling backoff every retry in Capstan uses (crash loops, failing
// lanes, the events stream, the router process, status pushes): the first
// retry waits `baseMs`, each further one twice as long, never more than
// `capMs`. A leaf module: any folder may import it.

/** The wait before retry number `attempt` (1 = the first retry). */
export function doublingDelayMs(attempt: number, baseMs: number, capMs: number): number {
  if (attempt <= 0) return 0;
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}
