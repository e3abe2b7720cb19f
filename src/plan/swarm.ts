// The swarm backend's expansion of the shared plan: each service becomes one
// Swarm service (create, update by Swarm's rolling update, scale, remove),
// and the secrets and configs it reads become content-named Swarm objects,
// created before the services that use them and removed after nothing does.

import type { DesiredService } from '../desired/model.js';
import { swarmFileName, swarmServiceName } from '../desired/swarm-names.js';
import type { ObservedService, ObservedState } from '../observed/model.js';
import type { Operation, ServiceChange } from './operations.js';
import type { Expansion } from './planner.js';
import { PHASE_CLEANUP, PHASE_INFRA, PHASE_ORPHANS, serviceKey, specChangeCause, type ServiceTarget } from './targets.js';

export function swarmExpansion(observed: ObservedState): Expansion {
  const swarm = observed.swarm ?? { services: [], nodes: [], files: [] };
  const byService = new Map(swarm.services.map((s) => [serviceKey(s.stack, s.service), s]));
  const existingFiles = new Set(swarm.files.map((f) => `${f.kind}\u0000${f.name}`));
  const planned = new Set<string>();
  /** Names the targets use: everything else of ours is removed at the end. */
  const used = new Set<string>();
  const readyNodes = swarm.nodes.filter((n) => n.state === 'ready' && n.availability === 'active').length;

  const planFiles = (service: DesiredService, emit: (op: Operation) => void): void => {
    for (const [kind, files] of [['secret', service.spec.secrets ?? []], ['config', service.spec.configs ?? []]] as const) {
      for (const file of files) {
        const name = swarmFileName(service.stack, file);
        const k = `${kind}\u0000${name}`;
        used.add(k);
        if (existingFiles.has(k) || planned.has(k)) continue;
        planned.add(k);
        const older = swarm.files.some((f) => f.kind === kind && f.stack === service.stack && f.file === file.name);
        const cause = older ? `${kind} ${file.name} has new content` : `${kind} ${file.name} is not in the swarm yet`;
        emit({ kind: kind === 'secret' ? 'create-secret' : 'create-config', stack: service.stack, name, file, phase: PHASE_INFRA, cause });
      }
    }
  };

  return {
    stackInfra: () => undefined,
    service: (target, emit) => {
      planFiles(target.service, emit);
      return planService(target, byService.get(serviceKey(target.service.stack, target.service.name)), readyNodes, emit);
    },
    observedServices: () => [...swarm.services].sort((a, b) => a.name.localeCompare(b.name)).map((s) => ({ stack: s.stack, service: s.service })),
    remove: (stack, service, cause, emit) => {
      const s = byService.get(serviceKey(stack, service));
      if (s !== undefined) emit({ kind: 'remove-service', stack, service, name: s.name, serviceId: s.id, phase: PHASE_ORPHANS, cause });
      return { stack, service, action: 'remove', replicas: { from: s?.replicas ?? 0, to: 0 }, causes: [cause] };
    },
    cleanup: (_desired, emit) => {
      for (const f of [...swarm.files].sort((a, b) => a.name.localeCompare(b.name))) {
        if (used.has(`${f.kind}\u0000${f.name}`)) continue;
        emit({ kind: f.kind === 'secret' ? 'remove-secret' : 'remove-config', stack: f.stack, name: f.name, fileId: f.id, phase: PHASE_CLEANUP, cause: `no service uses this ${f.kind} any more` });
      }
    },
    heldBack: () => [],
  };
}

function planService(target: ServiceTarget, current: ObservedService | undefined, readyNodes: number, emit: (op: Operation) => void): ServiceChange {
  const { service, direction, replaces, phase } = target;
  const name = swarmServiceName(service.stack, service.name);
  const global = service.spec.mode === 'global';
  const to = global ? readyNodes : service.spec.replicas;
  const base = { stack: service.stack, phase, service, name };
  const summary = (action: ServiceChange['action'], from: number, causes: string[]): ServiceChange => ({ stack: service.stack, service: service.name, action, replicas: { from, to }, causes });

  if (current === undefined) {
    const cause = global ? 'new global service, one replica per node' : `new service, ${to} replica${to === 1 ? '' : 's'}`;
    emit({ ...base, kind: 'create-service', cause });
    return summary('create', 0, [cause]);
  }
  const from = global ? current.tasks.filter((t) => t.desiredState === 'running').length : current.replicas;
  if (current.specHash !== service.specHash && replaces) {
    const why = specChangeCause(current.spec, current.specHash, service);
    const scaled = !global && current.replicas !== to ? `, scale ${current.replicas} → ${to}` : '';
    const cause = `${direction === 'back' ? 'roll back: ' : ''}${why}${scaled}`;
    const previous = current.spec === undefined ? undefined : { spec: current.spec, specHash: current.specHash };
    emit({ ...base, kind: 'update-service', serviceId: current.id, version: current.version, direction, previous, cause });
    return summary('update', from, [cause]);
  }
  if (current.specHash === service.specHash && !global && current.replicas !== to) {
    const cause = `scale ${current.replicas} → ${to}`;
    emit({ ...base, kind: 'scale-service', serviceId: current.id, version: current.version, replicas: { from: current.replicas, to }, cause });
    return summary('scale', from, [cause]);
  }
  return summary('unchanged', from, []);
}
