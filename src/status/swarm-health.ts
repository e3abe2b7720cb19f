// How healthy each service is on a swarm, from the one snapshot of the
// manager: Swarm's tasks instead of containers. A task counts as running
// (and ready: Swarm holds a task in `starting` until its healthcheck passes)
// when Swarm wants it running, it runs the service's current spec, and its
// node is up. Pure, like service-health.ts, whose shapes it fills.

import type { DesiredService, DesiredState } from '../desired/model.js';
import type { ObservedNode, ObservedService, ObservedSwarm } from '../observed/model.js';
import type { ServiceHealth } from './service-health.js';

/** One node as /api/status shows it: what Swarm says of it, and how many of this instance's tasks run there. */
export type NodeStatus = ObservedNode & { tasks: number };

export function assessSwarmServices(desired: DesiredState, swarm: ObservedSwarm): ServiceHealth[] {
  const up = new Set(swarm.nodes.filter((n) => n.state === 'ready').map((n) => n.id));
  return desired.stacks.flatMap((stack) => stack.services.map((service) => {
    const current = swarm.services.find((s) => s.stack === stack.name && s.service === service.name);
    return assessSwarmService(service, current, up, swarm.nodes);
  }));
}

function assessSwarmService(service: DesiredService, current: ObservedService | undefined, up: ReadonlySet<string>, nodes: readonly ObservedNode[]): ServiceHealth {
  const wanted = (current?.tasks ?? []).filter((t) => t.desiredState === 'running');
  // What runs is counted against the spec the service has now: after Swarm rolled an update back, that is the
  // restored one (the pass's outcome says the deploy failed); mid-update, tasks of the old spec still count as Swarm's.
  const spec = current?.specHash ?? service.specHash;
  const running = wanted.filter((t) => t.state === 'running' && t.specHash === spec && up.has(t.nodeId)).length;
  // Global: one per node Swarm placed it on, among the nodes that are up (a node that is down runs nothing).
  const desired = service.spec.mode === 'global' ? new Set(wanted.map((t) => t.nodeId).filter((id) => up.has(id))).size : service.spec.replicas;
  const lost = wanted.filter((t) => !up.has(t.nodeId)).map((t) => nodes.find((n) => n.id === t.nodeId)?.hostname ?? t.nodeId);
  const failing = (current?.tasks ?? []).find((t) => t.error !== '' && t.specHash === spec);
  const base = { stack: service.stack, service: service.name, desired, running, ready: running, unhealthy: [], crashLoop: undefined };
  const live = (message: string) => ({ message, crashes: undefined, nextRestartAt: undefined, probeFailures: {} });
  if (running < desired || (desired === 0 && service.spec.mode === 'global' && running === 0 && lost.length > 0)) {
    const why = [lost.length > 0 ? `node ${[...new Set(lost)].join(', ')} down, Swarm reschedules` : '', failing === undefined ? '' : `task error: ${failing.error}`].filter((x) => x !== '');
    return { ...base, status: 'Degraded', reason: 'BelowDesired', live: live(`${running}/${desired} tasks running${why.length > 0 ? ` (${why.join('; ')})` : ''}`) };
  }
  return { ...base, status: 'Healthy', reason: undefined, live: live(`${running}/${desired} tasks running`) };
}

export function nodeStatuses(swarm: ObservedSwarm): NodeStatus[] {
  const tasks = new Map<string, number>();
  for (const s of swarm.services) {
    for (const t of s.tasks) if (t.desiredState === 'running' && t.state === 'running') tasks.set(t.nodeId, (tasks.get(t.nodeId) ?? 0) + 1);
  }
  return swarm.nodes.map((n) => ({ ...n, tasks: tasks.get(n.id) ?? 0 }));
}
