// Crash-loop backoff as a pure function of a replica's run history and the
// time. One death is not a loop: it is restarted at once (as Docker's
// restart policy and Kubernetes do). From the second short run in a row the
// wait is 1 s, doubling per short run, capped at 5 min; a run that lasted
// 60 s or more resets the count (DESIGN §6). The history comes from engine
// data, so it survives restarts.

import { doublingDelayMs } from '../backoff.js';

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 5 * 60_000;
export const BACKOFF_RESET_MS = 60_000;

/** One finished run of a container, from the engine's State (StartedAt/FinishedAt/ExitCode). */
export interface RunRecord {
  startedAt: number;
  finishedAt: number;
  exitCode: number;
}

export interface Backoff {
  /** Consecutive runs shorter than the reset window, ending with the last one. */
  crashes: number;
  delayMs: number;
  /** No restart before this time (ms). */
  until: number;
  waiting: boolean;
}

/** `history` oldest first. An empty history never waits. */
export function crashBackoff(history: readonly RunRecord[], now: number): Backoff {
  let crashes = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const run = history[i] as RunRecord;
    if (run.finishedAt - run.startedAt >= BACKOFF_RESET_MS) break;
    crashes++;
  }
  const last = history[history.length - 1];
  if (last === undefined || crashes === 0) return { crashes: 0, delayMs: 0, until: now, waiting: false };
  const delayMs = doublingDelayMs(crashes - 1, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
  const until = last.finishedAt + delayMs;
  return { crashes, delayMs, until, waiting: now < until };
}

/** Appends a run unless it is already recorded (same finish time), keeping the newest `max`. */
export function appendRun(history: readonly RunRecord[], run: RunRecord, max = 32): RunRecord[] {
  if (history.some((r) => r.finishedAt === run.finishedAt && r.startedAt === run.startedAt)) return [...history];
  return [...history, run].sort((a, b) => a.finishedAt - b.finishedAt).slice(-max);
}
