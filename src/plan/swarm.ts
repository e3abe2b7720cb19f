// The swarm backend's expansion of the shared plan: each service becomes one
// Swarm service (create, update by Swarm's rolling update, scale, remove),
// and the secrets and configs it reads become content-named Swarm objects,
// created before the services that use them and removed after nothing does.
// Swarm keeps its rolling updates' state (UpdateStatus), so an update under
// way is followed, not planned again, and one Swarm rolled back or paused is
// reported as the failure it is, once, then held like a failed rollout.

import type { DesiredService } from '../desired/model.js';
import { bindConfigs, swarmFileName, swarmServiceName } from '../desired/swarm-names.js';
import type { ObservedService, ObservedState } from '../observed/model.js';
import type { HeldRollout } from '../strategies/rolling.js';
import type { EngineRollout, OperationDraft as Draft, ServiceChange } from './operations.js';
import type { Expansion } from './planner.js';
import { PHASE_CLEANUP, PHASE_INFRA, PHASE_ORPHANS, serviceKey, specChangeCause, type ServiceTarget } from './targets.js';

export interface SwarmPlanOptions {
  /** The stack's failed rollouts on record, of any revision: a failure Swarm ended before one was recorded is new. */
  held: readonly HeldRollout[];
  /** `apply --force`: an update Swarm rolled back or paused is tried again. */
  retryFailed: boolean;
}

export function swarmExpansion(observed: ObservedState, opts: SwarmPlanOptions): Expansion {
  const swarm = observed.swarm ?? { services: [], nodes: [], files: [] };
  const byService = new Map(swarm.services.map((s) => [serviceKey(s.stack, s.service), s]));
  const existingFiles = new Set(swarm.files.map((f) => `${f.kind}\u0000${f.name}`));
  const planned = new Set<string>();
  /** Names the targets use: everything else of ours is removed at the end. */
  const used = new Set<string>();
  const rollouts: EngineRollout[] = [];
  const readyNodes = swarm.nodes.filter((n) => n.state === 'ready' && n.availability === 'active').length;

  const planFiles = (service: DesiredService, emit: (op: Draft) => void): void => {
    for (const [kind, files] of [['secret', service.spec.secrets ?? []], ['config', [...(service.spec.configs ?? []), ...bindConfigs(service.spec)]]] as const) {
      for (const file of files) {
        const name = swarmFileName(service.stack, file);
        const k = `${kind}\u0000${name}`;
        used.add(k);
        if (existingFiles.has(k) || planned.has(k)) continue;
        planned.add(k);
        const older = swarm.files.some((f) => f.kind === kind && f.stack === service.stack && f.file === file.name);
        const cause = older ? `${kind} ${file.name} has new content` : `${kind} ${file.name} is not in the swarm yet`;
        emit({ kind: kind === 'secret' ? 'create-secret' : 'create-config', stack: service.stack, name, file, phase: PHASE_INFRA, reason: older ? 'file-changed' : 'file-missing', cause });
      }
    }
  };

  return {
    stackInfra: () => undefined,
    service: (target, stackDir, emit) => {
      const current = byService.get(serviceKey(target.service.stack, target.service.name));
      planFiles(target.service, emit);
      const swarmRollout = current === undefined ? undefined : engineRollout(target, current, opts);
      if (swarmRollout !== undefined) {
        rollouts.push(swarmRollout);
        const underway = swarmRollout.state === 'rolling' || swarmRollout.state === 'settling';
        // An update under way to another spec than Git's now is superseded by the update planned below.
        if (!underway || current?.specHash === target.service.specHash || swarmRollout.direction === 'back') {
          return summary(target, 'unchanged', current, readyNodes, [describeRollout(swarmRollout)]);
        }
      }
      return planService(target, current, readyNodes, stackDir, emit);
    },
    observedServices: () => [...swarm.services].sort((a, b) => a.name.localeCompare(b.name)).map((s) => ({ stack: s.stack, service: s.service })),
    remove: (stack, service, stackGone, cause, emit) => {
      const s = byService.get(serviceKey(stack, service));
      if (s !== undefined) emit({ kind: 'remove-service', stack, service, name: s.name, serviceId: s.id, phase: PHASE_ORPHANS, reason: stackGone ? 'stack-removed' : 'service-removed', cause });
      return { stack, service, action: 'remove', replicas: { from: s?.replicas ?? 0, to: 0 }, causes: [cause] };
    },
    cleanup: (_desired, emit) => {
      for (const f of [...swarm.files].sort((a, b) => a.name.localeCompare(b.name))) {
        if (used.has(`${f.kind}\u0000${f.name}`)) continue;
        emit({ kind: f.kind === 'secret' ? 'remove-secret' : 'remove-config', stack: f.stack, name: f.name, fileId: f.id, phase: PHASE_CLEANUP, reason: 'file-unused', cause: `no service uses this ${f.kind} any more` });
      }
    },
    // Every node pulls for itself, with the credentials passed along with the spec.
    pulls: () => [],
    heldBack: () => [],
    engineRollouts: () => rollouts,
  };
}

/**
 * Swarm's rolling update of this service as the snapshot shows it: under way
 * (forward, or back after a failure), or ended by Swarm in failure at this
 * revision and spec and not held yet. Undefined otherwise.
 */
function engineRollout(target: ServiceTarget, current: ObservedService, opts: SwarmPlanOptions): EngineRollout | undefined {
  const u = current.update;
  const service = target.service;
  const tasksOf = (hash: string): EngineRollout['tasks'] => {
    const wanted = current.tasks.filter((t) => t.desiredState === 'running');
    const desired = service.spec.mode === 'global' ? wanted.length : current.replicas;
    return { running: wanted.filter((t) => t.state === 'running' && t.specHash === hash).length, desired };
  };
  const base = { stack: service.stack, service: service.name, name: current.name, restored: undefined, direction: target.direction, since: current.changedAt };
  if (u?.state === 'updating' && current.specHash === service.specHash) {
    return { ...base, specHash: service.specHash, state: 'rolling', reason: u.message, tasks: tasksOf(service.specHash) };
  }
  if ((u === undefined || u.state === 'completed') && current.specHash === service.specHash && current.previous !== undefined) {
    // Right after an update or a scale Swarm may say nothing yet; its tasks say how far it got.
    const tasks = tasksOf(service.specHash);
    return tasks.running < tasks.desired ? { ...base, specHash: service.specHash, state: 'settling', reason: u?.message ?? '', tasks } : undefined;
  }
  if (u === undefined) return undefined;
  // Swarm rolls back by putting the previous spec back in place (and forgetting the failed one): the tasks it made of Git's spec tell.
  const rolledBackFrom = u.state.startsWith('rollback') && current.specHash !== service.specHash && current.tasks.some((t) => t.specHash === service.specHash);
  if (u.state === 'rollback_started' && rolledBackFrom) {
    return { ...base, specHash: service.specHash, state: 'rolling', reason: `Swarm rolls back: ${failureReason(current, service.specHash)}`, direction: 'back', tasks: tasksOf(current.specHash) };
  }
  // Held already (the planner's target is then what was restored, or nothing is replaced), or recorded since Swarm ended it: reported once, not on every pass.
  if (opts.retryFailed || target.direction !== 'forward' || !target.replaces) return undefined;
  if (opts.held.some((h) => h.stack === service.stack && h.service === service.name && h.specHash === service.specHash && h.at >= current.changedAt)) return undefined;
  if (u.state === 'rollback_completed' && rolledBackFrom) {
    const restored = current.spec === undefined ? undefined : { spec: current.spec, specHash: current.specHash };
    return { ...base, specHash: service.specHash, state: 'rolled-back', reason: failureReason(current, service.specHash), restored, tasks: tasksOf(current.specHash) };
  }
  if (u.state === 'paused' && current.specHash === service.specHash) {
    return { ...base, specHash: service.specHash, state: 'paused', reason: failureReason(current, service.specHash), tasks: tasksOf(service.specHash) };
  }
  if (u.state === 'rollback_paused' && rolledBackFrom) {
    return { ...base, specHash: service.specHash, state: 'rollback-failed', reason: failureReason(current, service.specHash), tasks: tasksOf(current.specHash) };
  }
  return undefined;
}

/** The failed task's error says why ("task: non-zero exit (3)"); Swarm's own message only what it did about it. */
function failureReason(current: ObservedService, specHash: string): string {
  const swarm = current.update?.message ?? '';
  const failed = current.tasks.filter((t) => t.error !== '' && t.specHash === specHash).sort((a, b) => b.at - a.at)[0];
  if (failed === undefined) return swarm || 'update failed';
  return `new tasks failed: ${failed.error} (Swarm: ${swarm || current.update?.state || 'update failed'})`;
}

function describeRollout(r: EngineRollout): string {
  switch (r.state) {
    case 'settling': return `Swarm converges: ${r.tasks.running}/${r.tasks.desired} tasks run ${r.specHash.slice(0, 12)}`;
    case 'rolling': return `Swarm is rolling ${r.direction === 'back' ? 'back' : 'out'} ${r.specHash.slice(0, 12)}: ${r.tasks.running}/${r.tasks.desired} tasks on it`;
    case 'rolled-back': return `Swarm rolled the update back: ${r.reason}`;
    case 'paused': return `Swarm paused the update: ${r.reason}`;
    case 'rollback-failed': return `Swarm's rollback paused: ${r.reason}`;
  }
}

function summary(target: ServiceTarget, action: ServiceChange['action'], current: ObservedService | undefined, readyNodes: number, causes: string[]): ServiceChange {
  const { service } = target;
  const global = service.spec.mode === 'global';
  const from = current === undefined ? 0 : global ? current.tasks.filter((t) => t.desiredState === 'running').length : current.replicas;
  return { stack: service.stack, service: service.name, action, replicas: { from, to: global ? readyNodes : service.spec.replicas }, causes };
}

function planService(target: ServiceTarget, current: ObservedService | undefined, readyNodes: number, stackDir: string, emit: (op: Draft) => void): ServiceChange {
  const { service, direction, replaces, phase } = target;
  const name = swarmServiceName(service.stack, service.name);
  const global = service.spec.mode === 'global';
  const to = global ? readyNodes : service.spec.replicas;
  const base = { stack: service.stack, phase, service, name };

  if (current === undefined) {
    const cause = global ? 'new global service, one replica per node' : `new service, ${to} replica${to === 1 ? '' : 's'}`;
    emit({ ...base, kind: 'create-service', reason: 'new-service', cause });
    return summary(target, 'create', current, readyNodes, [cause]);
  }
  if (current.specHash !== service.specHash && replaces) {
    const why = specChangeCause(current.spec, current.specHash, service, stackDir);
    const scaled = !global && current.replicas !== to ? `, scale ${current.replicas} → ${to}` : '';
    const cause = `${direction === 'back' ? 'roll back: ' : ''}${why}${scaled}`;
    const previous = current.spec === undefined ? undefined : { spec: current.spec, specHash: current.specHash };
    emit({ ...base, kind: 'update-service', serviceId: current.id, version: current.version, direction, previous, reason: direction === 'back' ? 'roll-back' : 'spec-changed', cause });
    return summary(target, 'update', current, readyNodes, [cause]);
  }
  if (current.specHash === service.specHash && !global && current.replicas !== to) {
    const cause = `scale ${current.replicas} → ${to}`;
    emit({ ...base, kind: 'scale-service', serviceId: current.id, version: current.version, replicas: { from: current.replicas, to }, reason: to > current.replicas ? 'scale-up' : 'scale-down', cause });
    return summary(target, 'scale', current, readyNodes, [cause]);
  }
  return summary(target, 'unchanged', current, readyNodes, []);
}
