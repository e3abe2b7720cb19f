// The one definition of "this replica is ready" (DESIGN §6): it runs, Docker's
// healthcheck (when it has one) says healthy, and its x-capstan.probe (when it
// has one) has passed. The routing table, status, rollouts and healing all
// ask here. Pure: the replica as the snapshot lists it and the prober's
// verdict come in.

import type { ObservedContainer } from '../observed/model.js';
import { describeProbe } from './describe.js';
import type { ProbeCheck } from '../manifests/model.js';
import type { ReplicaHealth } from './replica-health.js';

export type Readiness =
  | { kind: 'ready' }
  /** Not yet: starting, its healthcheck still starting, its probe not passed yet (or out of rotation after a missed probe). */
  | { kind: 'waiting'; why: string }
  /** Will not become ready by waiting: exited, restarting, unhealthy, or failed its probe after having been ready. */
  | { kind: 'failed'; reason: string };

/** What the prober knows of a replica with a probe; undefined when it has none. */
export interface ProbeVerdict {
  check: ProbeCheck;
  /** Undefined while the prober has not started on it. */
  health: ReplicaHealth | undefined;
}

type Replica = Pick<ObservedContainer, 'name' | 'state' | 'health' | 'lastRun'>;

export function replicaReadiness(c: Replica, probe: ProbeVerdict | undefined): Readiness {
  const exit = c.lastRun === undefined ? '' : ` with code ${c.lastRun.exitCode}`;
  if (c.state === 'exited' || c.state === 'dead') return { kind: 'failed', reason: `${c.name} exited${exit}` };
  if (c.state === 'restarting') return { kind: 'failed', reason: `${c.name} is restarting after it exited${exit}` };
  if (c.state !== 'running') return { kind: 'waiting', why: `${c.name} is ${c.state}` };
  if (c.health === 'unhealthy') return { kind: 'failed', reason: `${c.name} is unhealthy (its healthcheck fails)` };
  if (c.health === 'starting') return { kind: 'waiting', why: `${c.name}'s healthcheck is still starting` };
  if (probe === undefined) return { kind: 'ready' };
  const health = probe.health;
  if (health?.state === 'ready') return { kind: 'ready' };
  if (health?.state === 'failed') return { kind: 'failed', reason: `${c.name} failed its probe (${describeProbe(probe.check)}): ${health.lastOutput}` };
  const last = health?.lastOutput ? `: ${health.lastOutput}` : '';
  return { kind: 'waiting', why: `${c.name} has not passed its probe (${describeProbe(probe.check)})${last}` };
}

export function isReady(c: Replica, probe: ProbeVerdict | undefined): boolean {
  return replicaReadiness(c, probe).kind === 'ready';
}
