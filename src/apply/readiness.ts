// What a rolling update waits on: a new replica becomes ready (running, its
// Docker healthcheck healthy when it has one, its x-capstan.probe passing
// success_threshold times) within its progress deadline, and then stays so
// for the monitor window. The state is read from the engine (inspect) and
// from the prober, which the daemon shares so that the replica's readiness
// is the same one the routing table and status use.

import type { Backend, ReplicaState } from '../backends/backend.js';
import type { DesiredService } from '../desired/model.js';
import { describeProbe } from '../health/describe.js';
import type { ProbedReplica } from '../health/prober.js';
import type { ReplicaHealth } from '../health/replica-health.js';

/** The prober's side the gate needs (the daemon's Prober, or one of the one-shot command's own). */
export interface ProbeTracker {
  track(replica: ProbedReplica): void;
  healthOf(containerId: string): ReplicaHealth | undefined;
}

export type Verdict = { ok: true; replica: ReplicaState } | { ok: false; reason: string };

export interface ReadinessGate {
  /** Resolves when the replica is ready, or with why it is not by `deadline` (ms since the epoch). */
  untilReady(containerId: string, name: string, service: DesiredService, deadline: number): Promise<Verdict>;
  /** Watches ready replicas until `until`; resolves with why each failed meanwhile, undefined for those that held. */
  monitor(replicas: readonly { containerId: string; name: string; service: DesiredService }[], until: number): Promise<(string | undefined)[]>;
}

export interface ReadinessOptions {
  backend: Pick<Backend, 'inspectReplica'>;
  probes: ProbeTracker;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** How often the engine is asked (default 100 ms: a rollout step should not wait on polling). */
  pollMs?: number;
}

export function readinessGate(opts: ReadinessOptions): ReadinessGate {
  const pollMs = opts.pollMs ?? 100;

  /** One look: a failure, ready, or still waiting (with what is awaited, for the timeout message). */
  const look = async (containerId: string, name: string, service: DesiredService): Promise<Verdict | { ok: 'waiting'; why: string }> => {
    const st = await opts.backend.inspectReplica(containerId);
    if (st === undefined) return { ok: false, reason: `${name} was removed` };
    if (st.state === 'exited' || st.state === 'dead') return { ok: false, reason: `${name} exited with code ${st.exitCode}` };
    if (st.state === 'restarting') return { ok: false, reason: `${name} is restarting after exit code ${st.exitCode}` };
    if (st.state !== 'running') return { ok: 'waiting', why: `${name} is ${st.state}` };
    if (st.health === 'unhealthy') return { ok: false, reason: `${name} is unhealthy (its healthcheck fails)` };
    if (st.health === 'starting') return { ok: 'waiting', why: `${name}'s healthcheck is still starting` };
    const probe = service.spec.capstan.probe;
    if (probe === undefined) return { ok: true, replica: st };
    opts.probes.track({ containerId, name, stack: service.stack, service: service.name, ip: st.ip, probe });
    const health = opts.probes.healthOf(containerId);
    if (health?.state === 'ready') return { ok: true, replica: st };
    if (health?.state === 'failed') return { ok: false, reason: `${name} failed its probe (${describeProbe(probe.check)}): ${health.lastOutput}` };
    const last = health?.lastOutput ? `: ${health.lastOutput}` : '';
    return { ok: 'waiting', why: `${name} has not passed its probe (${describeProbe(probe.check)})${last}` };
  };

  return {
    async untilReady(containerId, name, service, deadline) {
      for (;;) {
        const v = await look(containerId, name, service);
        if (v.ok !== 'waiting') return v;
        if (opts.now() >= deadline) return { ok: false, reason: `${v.why} after ${Math.round(service.spec.capstan.progressDeadlineMs / 1000)} s (progress deadline)` };
        await opts.sleep(pollMs);
      }
    },

    async monitor(replicas, until) {
      const failures = new Map<string, string>();
      for (;;) {
        for (const r of replicas) {
          if (failures.has(r.containerId)) continue;
          const v = await look(r.containerId, r.name, r.service);
          // One missed probe only takes a replica out of rotation; failure_threshold of them in a row (liveness) fails it.
          if (v.ok === false) failures.set(r.containerId, `${v.reason} within the monitor window`);
        }
        if (opts.now() >= until || failures.size === replicas.length) break;
        await opts.sleep(Math.min(pollMs * 2, Math.max(1, until - opts.now())));
      }
      return replicas.map((r) => failures.get(r.containerId));
    },
  };
}
