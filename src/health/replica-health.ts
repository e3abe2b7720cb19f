// The per-replica health state machine, fed one probe result at a time:
// starting → ready → unready → failed. Pure: the clock arrives as `now`, so
// the prober (I/O) and the unit tests drive it alike.
//
// starting: no verdict yet (initial_delay, or fewer than success_threshold passes).
// ready:    success_threshold consecutive passes; receives traffic.
// unready:  a ready replica that failed at least once, or a starting one that
//           reached failure_threshold without ever being ready; no traffic.
// failed:   failure_threshold consecutive failures after having been ready —
//           the liveness verdict: the replica is replaced.

export type HealthState = 'starting' | 'ready' | 'unready' | 'failed';

export interface HealthThresholds {
  initialDelayMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface ReplicaHealth {
  state: HealthState;
  /** When the container started (ms); initial_delay counts from here. */
  startedAt: number;
  successes: number;
  failures: number;
  /** Was ready at least once: only then does failure_threshold mean "replace". */
  wasReady: boolean;
  /** The last probe's output (status line, error), for status. */
  lastOutput: string;
  lastProbeAt: number | undefined;
}

export interface ProbeResult {
  ok: boolean;
  output: string;
}

export function initialHealth(startedAt: number): ReplicaHealth {
  return { state: 'starting', startedAt, successes: 0, failures: 0, wasReady: false, lastOutput: '', lastProbeAt: undefined };
}

/**
 * A replica known to have been ready before this process started (the
 * router still serves it): it keeps its traffic until a probe says
 * otherwise, so restarting the operator takes nothing out of rotation.
 */
export function presumedReadyHealth(startedAt: number): ReplicaHealth {
  return { ...initialHealth(startedAt), state: 'ready', wasReady: true, lastOutput: 'ready before the operator restarted' };
}

/** Probes do not count (and are not run) before initial_delay has passed since the start. */
export function probeDue(health: ReplicaHealth, now: number, t: HealthThresholds): boolean {
  return now - health.startedAt >= t.initialDelayMs && health.state !== 'failed';
}

export function recordProbe(health: ReplicaHealth, result: ProbeResult, now: number, t: HealthThresholds): ReplicaHealth {
  if (health.state === 'failed' || !probeDue(health, now, t)) return health;
  const base = { ...health, lastOutput: result.output, lastProbeAt: now };
  if (result.ok) {
    const successes = health.successes + 1;
    const ready = successes >= t.successThreshold;
    return { ...base, successes, failures: 0, state: ready ? 'ready' : health.state, wasReady: health.wasReady || ready };
  }
  const failures = health.failures + 1;
  const reached = failures >= t.failureThreshold;
  let state: HealthState;
  if (health.wasReady) state = reached ? 'failed' : 'unready';
  else state = reached ? 'unready' : health.state;
  return { ...base, successes: 0, failures, state };
}
