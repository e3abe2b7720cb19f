// Did a replica stop on its own, or did something stop the stack around it?
// A dockerd that stops or restarts (systemctl restart docker, SIGTERM) stops
// every container first, all at once, while its API still answers for a few
// seconds; a release that crashes stops only its own replicas. The snapshot
// tells the two apart: containers of the stack that were running before the
// rollout began (so not part of the release) and stopped within moments of
// the replica. Pure: the snapshot's containers and the rollout's start come in.

import type { ObservedContainer } from '../observed/model.js';

/**
 * Stops this close together are one event: dockerd sends every container its
 * stop signal at once and kills what still runs after the stop timeout
 * (10 s by default), so a replica that ignores the signal ends up to ~10 s
 * after one that handles it.
 */
export const STOPPED_TOGETHER_MS = 15_000;

type Run = Pick<ObservedContainer, 'name' | 'state' | 'lastRun'>;

const stopped = (c: Run): boolean => c.state === 'exited' || c.state === 'dead';

/**
 * The names of the containers in `stack` (the snapshot of one stack) that ran
 * since before `since` and stopped within STOPPED_TOGETHER_MS of `replica`;
 * empty when the replica runs, or stopped alone.
 */
export function stoppedTogether(replica: Run, stack: readonly Run[], since: number): string[] {
  const last = replica.lastRun;
  if (!stopped(replica) || last === undefined) return [];
  return stack
    .filter((c) => c.name !== replica.name && stopped(c) && c.lastRun !== undefined && c.lastRun.startedAt < since && Math.abs(c.lastRun.finishedAt - last.finishedAt) <= STOPPED_TOGETHER_MS)
    .map((c) => c.name)
    .sort();
}

/**
 * An exit that looks like a stop rather than a crash: the process ended
 * cleanly, or by the stop signal (SIGTERM, SIGINT) or the kill that follows
 * it, and not for lack of memory.
 */
export function looksStopped(replica: Run): boolean {
  const last = replica.lastRun;
  if (!stopped(replica) || last === undefined || last.oomKilled) return false;
  return last.exitCode === 0 || last.exitCode === 130 || last.exitCode === 137 || last.exitCode === 143;
}
