// How healthy each service is after a pass (DESIGN §6, issue 4 "Reporting"):
// desired, running and ready replicas of the desired spec, the replicas that
// run but fail their readiness check (which check, and what it said), and a
// crash loop. Pure: the snapshot, the desired state and what the daemon's
// health checks add (HealthFacts) come in, the time too. One-shot commands
// have no facts and count from the snapshot alone.
//
// The result feeds both the status files and /api/status; fields that change
// on every probe or every crash (counts of failures, the next restart time,
// the newest log lines) are kept apart in `live` so the files can leave them
// out and an idle, crash-looping operator commits nothing.

import type { DesiredService, DesiredState } from '../desired/model.js';
import { describeHealthcheck, describeProbe } from '../health/describe.js';
import { isReady } from '../health/readiness.js';
import type { ReplicaHealth } from '../health/replica-health.js';
import type { ProbeCheck } from '../manifests/model.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import { assessSwarmServices } from './swarm-health.js';

/** A replica in crash-loop backoff, as the daemon's healer knows it from the run history. */
export interface CrashLoop {
  replica: string;
  /** Short runs in a row so far. */
  crashes: number;
  exitCode: number | undefined;
  /** The newest lines of its log. */
  logLines: readonly string[];
  /** When the held-back restart is due (ms); undefined once restarted and not yet past the reset window. */
  nextRestartAt: number | undefined;
}

/** What the daemon's health checks know beyond one snapshot. */
export interface HealthFacts {
  /** By container id: replicas of services with `x-capstan.probe` that the prober tracks. */
  probes: ReadonlyMap<string, { check: ProbeCheck; health: ReplicaHealth }>;
  /** By `stack/service`. */
  crashLoops: ReadonlyMap<string, CrashLoop>;
}

/** A replica that runs but fails its readiness check. */
export interface UnhealthyReplica {
  replica: string;
  /** `http GET :8080/healthz`, `healthcheck CMD ...` */
  probe: string;
  output: string;
}

export interface ServiceHealth {
  stack: string;
  service: string;
  desired: number;
  /** A replica in a crash loop counts as neither running nor ready until it has run for the reset window. */
  running: number;
  ready: number;
  status: 'Healthy' | 'Degraded';
  reason: 'CrashLoop' | 'Unready' | 'BelowDesired' | undefined;
  unhealthy: readonly UnhealthyReplica[];
  crashLoop: { replica: string; exitCode: number | undefined; lastLogLines: readonly string[] } | undefined;
  /** For logs and the API only: these change on every probe or crash. */
  live: {
    message: string;
    crashes: number | undefined;
    /** ISO time of the next restart of a crash-looping replica. */
    nextRestartAt: string | undefined;
    /** Consecutive failed probes, by replica. */
    probeFailures: Readonly<Record<string, number>>;
  };
}

export const serviceKey = (stack: string, service: string): string => `${stack}/${service}`;

/** Every desired service of every stack, in the desired order. */
export function assessServices(desired: DesiredState, observed: ObservedState, facts: HealthFacts | undefined, nowMs: number): ServiceHealth[] {
  // On a swarm, Swarm's tasks are the replicas (and its healthcheck gate their readiness).
  if (observed.swarm !== undefined) return assessSwarmServices(desired, observed.swarm);
  return desired.stacks.flatMap((stack) => stack.services.map((service) => {
    const containers = observed.containers.filter((c) => c.stack === stack.name && c.service === service.name);
    return assessService(service, containers, facts, nowMs);
  }));
}

export function assessService(service: DesiredService, containers: readonly ObservedContainer[], facts: HealthFacts | undefined, nowMs: number): ServiceHealth {
  const loop = facts?.crashLoops.get(serviceKey(service.stack, service.name));
  // Replicas of an older spec are being replaced; they do not count for this one.
  const running = containers.filter((c) => c.specHash === service.specHash && c.state === 'running' && c.name !== loop?.replica);
  // Without the daemon's prober (a one-shot apply) probes are not run, so they cannot hold readiness back.
  const check = service.spec.capstan.probe?.check;
  const probed = facts !== undefined && check !== undefined;
  const ready = running.filter((c) => isReady(c, probed ? { check, health: facts.probes.get(c.id)?.health } : undefined));
  const unhealthy: UnhealthyReplica[] = [];
  const probeFailures: Record<string, number> = {};
  for (const c of running) {
    if (c.health === 'unhealthy') {
      unhealthy.push({ replica: c.name, probe: describeHealthcheck(service.spec.healthcheck), output: c.healthcheck?.output ?? '' });
      continue;
    }
    const probe = probed ? facts.probes.get(c.id) : undefined;
    // A replica still starting has no verdict yet; one that failed its threshold, or failed after being ready, has.
    if (probe === undefined || (probe.health.state !== 'unready' && probe.health.state !== 'failed')) continue;
    unhealthy.push({ replica: c.name, probe: describeProbe(probe.check), output: probe.health.lastOutput });
    probeFailures[c.name] = probe.health.failures;
  }

  const desired = service.spec.replicas;
  const counts = { stack: service.stack, service: service.name, desired, running: running.length, ready: ready.length, unhealthy };
  const live = (message: string) => ({ message, crashes: loop?.crashes, nextRestartAt: loop?.nextRestartAt === undefined ? undefined : new Date(loop.nextRestartAt).toISOString(), probeFailures });
  if (loop !== undefined) {
    const exit = `exit code ${loop.exitCode ?? '?'}`;
    const message = loop.nextRestartAt === undefined
      ? `${loop.replica} restarted after ${loop.crashes} crashes in a row (${exit})`
      : `${loop.replica} is crash-looping (${loop.crashes} crashes in a row, ${exit}); next restart in ${Math.max(0, Math.ceil((loop.nextRestartAt - nowMs) / 1000))} s`;
    return { ...counts, status: 'Degraded', reason: 'CrashLoop', crashLoop: { replica: loop.replica, exitCode: loop.exitCode, lastLogLines: loop.logLines }, live: live(message) };
  }
  const base = { ...counts, crashLoop: undefined };
  if (running.length < desired) return { ...base, status: 'Degraded', reason: 'BelowDesired', live: live(`${running.length}/${desired} replicas running`) };
  if (ready.length < desired) return { ...base, status: 'Degraded', reason: 'Unready', live: live(`${ready.length}/${desired} replicas ready`) };
  return { ...base, status: 'Healthy', reason: undefined, live: live(`${ready.length}/${desired} replicas ready`) };
}
