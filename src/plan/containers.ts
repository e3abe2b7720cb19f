// The docker engine backend's expansion of the shared plan: each service
// becomes its replicas' containers, slot by slot (create, recreate, start,
// promote a start-first twin, remove), plus the stack's named volumes.
// Crash-looping replicas are held back by their backoff.

import type { DesiredService, DesiredStack } from '../desired/model.js';
import { canaryName, LABEL, replicaName, twinName } from '../desired/labels.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import { crashBackoff, type RunRecord } from '../health/backoff.js';
import { sameImage } from '../manifests/image-ref.js';
import type { ImageFacts, ObservedContainer, ObservedState } from '../observed/model.js';
import { digestMove, pinnedTo, planPulls } from './images.js';
import type { HeldBack, OperationDraft as Draft, OperationReason, RolloutInfo, ServiceChange } from './operations.js';
import type { Expansion } from './planner.js';
import { PHASE_INFRA, PHASE_ORPHANS, serviceKey, specChangeCause, usedVolumes, type ServiceTarget } from './targets.js';

/**
 * Crash-loop input for the daemon's passes. Without it (one-shot `apply`,
 * `plan`) a stopped replica is started at once: a human asked for it.
 */
export interface HealingInput {
  /** ms since the epoch. */
  now: number;
  /** Finished runs per container id, oldest first (the snapshot's lastRun is added when missing). */
  runs: ReadonlyMap<string, readonly RunRecord[]>;
}

export function containerExpansion(observed: ObservedState, healing: HealingInput | undefined): Expansion {
  const byService = groupContainers(observed.containers);
  const heldBack: HeldBack[] = [];
  return {
    stackInfra: (stack, emit) => planVolumes(stack, observed, emit),
    service: (target, stackDir, emit) => planService(target, byService.get(serviceKey(target.service.stack, target.service.name)) ?? [], emit, heldBack, healing, observed.images, stackDir),
    observedServices: () => [...byService.values()].flatMap((list) => (list[0] === undefined ? [] : [{ stack: list[0].stack, service: list[0].service }]))
      .sort((a, b) => serviceKey(a.stack, a.service).localeCompare(serviceKey(b.stack, b.service))),
    remove: (stack, service, stackGone, cause, emit) => {
      const containers = byService.get(serviceKey(stack, service)) ?? [];
      const reason: OperationReason = stackGone ? 'stack-removed' : 'service-removed';
      for (const c of containers) emit({ kind: 'remove-container', stack, service, name: c.name, containerId: c.id, phase: PHASE_ORPHANS, reason, cause });
      return { stack, service, action: 'remove', replicas: { from: containers.length, to: 0 }, causes: [cause] };
    },
    cleanup: () => undefined,
    pulls: (desired, operations) => planPulls(desired.stacks.flatMap((s) => s.services), operations, observed.images, PHASE_INFRA),
    heldBack: () => heldBack,
    engineRollouts: () => [],
  };
}

function planVolumes(stack: DesiredStack, observed: ObservedState, emit: (op: Draft) => void): void {
  for (const volume of usedVolumes(stack)) {
    if (observed.volumes.some((v) => v.name === volume.engineName)) continue;
    emit({ kind: 'create-volume', stack: stack.name, volume, phase: PHASE_INFRA, reason: 'volume-missing', cause: `volume ${volume.engineName} does not exist` });
  }
}

function planService(
  target: ServiceTarget,
  current: readonly ObservedContainer[],
  emit: (op: Draft) => void,
  heldBack: HeldBack[],
  healing: HealingInput | undefined,
  images: ImageFacts | undefined,
  stackDir: string,
): ServiceChange {
  const { service, direction, replaces, phase } = target;
  const desiredCount = service.spec.replicas;
  const base = { stack: service.stack, phase };
  const causes = new Set<string>();
  let updated = false;
  const push = (op: Draft): void => {
    emit(op);
    causes.add(op.cause);
    if (op.kind === 'recreate-container') updated = true;
  };

  // One container per slot, plus at most its start-first twin; anything else in a slot (left by a crash mid-recreate) is surplus.
  // Canaries stand beside the slots: a canary release in progress owns them; any other is a leftover.
  const canaries = current.filter((c) => c.name === canaryName(service, c.number));
  const bySlot = new Map<number, ObservedContainer>();
  const twins = new Map<number, ObservedContainer>();
  const surplus: ObservedContainer[] = [];
  for (const c of [...current].filter((x) => !canaries.includes(x)).sort((a, b) => a.number - b.number || preferRunning(a, b) || a.name.localeCompare(b.name))) {
    const inRange = c.number >= 1 && c.number <= desiredCount;
    if (inRange && c.name === twinName(service, c.number) && !twins.has(c.number)) twins.set(c.number, c);
    else if (inRange && c.name !== twinName(service, c.number) && !bySlot.has(c.number)) bySlot.set(c.number, c);
    else surplus.push(c);
  }

  const currentCount = current.length - twins.size - canaries.length;
  const releasing = service.spec.capstan.strategy === 'canary' && replaces && [...bySlot.values()].some((c) => c.specHash !== service.specHash);
  for (const c of canaries) {
    if (releasing && c.specHash === service.specHash) continue;
    push({ ...base, phase: PHASE_ORPHANS, kind: 'remove-container', service: service.name, name: c.name, containerId: c.id, reason: 'leftover-canary', cause: `canary ${c.number} of ${c.specHash === service.specHash ? 'a finished' : 'an earlier'} release is no longer needed` });
  }
  for (let n = 1; n <= desiredCount; n++) {
    const name = replicaName(service, n);
    const existing = bySlot.get(n);
    const twin = twins.get(n);
    if (twin !== undefined && existing === undefined) {
      push({ ...base, kind: 'promote-container', service: service.name, name, containerId: twin.id, from: twin.name, reason: 'finish-update', cause: `finish the update of replica ${n}: its old replica is gone, ${twin.name} takes its name` });
      continue;
    }
    // A twin of the target beside a replica of another spec (or, for a moved tag, of another digest) is a rollout under way.
    const moved = existing === undefined ? undefined : digestMove(existing, service, images);
    const twinIsNext = twin !== undefined && twin.specHash === service.specHash && (moved === undefined || twin.labels[LABEL.imageDigest] === moved.to);
    const resumable = twinIsNext && existing !== undefined && (existing.specHash !== service.specHash || moved !== undefined) && replaces;
    if (twin !== undefined && !resumable) {
      // Before anything of the service runs: a new twin of this slot will want the name.
      push({ ...base, phase: PHASE_ORPHANS, kind: 'remove-container', service: service.name, name: twin.name, containerId: twin.id, reason: 'leftover-twin', cause: `leftover of an interrupted update of replica ${n}` });
    }
    if (existing === undefined) {
      const reason: OperationReason = currentCount === 0 ? 'new-service' : n > currentCount ? 'scale-up' : 'replica-missing';
      const cause = reason === 'new-service'
        ? `new service, ${desiredCount} replica${desiredCount === 1 ? '' : 's'}${service.spec.build === undefined ? '' : `, build image ${service.spec.image}`}`
        : reason === 'scale-up' ? `scale up ${currentCount} → ${desiredCount}` : `replica ${n} is missing`;
      push({ ...base, kind: 'create-container', service, number: n, name, reason, cause });
    } else if (existing.specHash !== service.specHash && replaces) {
      const update = rolloutInfo(existing, direction, resumable ? twin : undefined);
      const why = specChangeCause(decodeSpecLabel(existing.labels), existing.specHash, service, stackDir);
      const cause = direction === 'back' ? `roll back: ${why}` : why;
      push({ ...base, kind: 'recreate-container', service, number: n, name, containerId: existing.id, update, reason: direction === 'back' ? 'roll-back' : 'spec-changed', cause });
    } else if (existing.specHash === service.specHash && replaces && digestMove(existing, service, images) !== undefined) {
      const move = digestMove(existing, service, images);
      // The way back from a moved tag is the digest the replica ran, pinned.
      const update: RolloutInfo = { direction, previous: move === undefined ? undefined : pinnedTo(service, move.from), twinId: undefined, targetDigest: move?.to };
      push({ ...base, kind: 'recreate-container', service, number: n, name, containerId: existing.id, update, reason: 'image-moved', cause: move?.cause ?? '' });
    } else if (existing.specHash === service.specHash && imageDrifted(existing, service)) {
      push({ ...base, kind: 'recreate-container', service, number: n, name, containerId: existing.id, update: rolloutInfo(existing, direction, undefined), reason: 'image-drift', cause: `drift: container ${name} runs image ${existing.image}, Git says ${service.spec.image}` });
    } else if (existing.state === 'removing') {
      // `docker rm -f` under way: the engine refuses to start it, and its `destroy` event wakes the lane to create the slot anew.
      causes.add(`${existing.name} is being removed`);
    } else if (existing.state !== 'running' && existing.state !== 'restarting') {
      const history = runHistory(existing, healing);
      const backoff = healing === undefined ? undefined : crashBackoff(history, healing.now);
      const last = history[history.length - 1];
      const exit = last === undefined ? '' : ` (exit code ${last.exitCode}${existing.lastRun?.oomKilled === true ? ', out of memory' : ''})`;
      const crashes = backoff !== undefined && backoff.crashes > 1 ? `, crash ${backoff.crashes} in a row` : '';
      const cause = `drift: container ${existing.name} was ${existing.state === 'exited' ? 'stopped' : existing.state}${exit}${crashes}`;
      if (backoff?.waiting === true) {
        heldBack.push({ stack: service.stack, service: service.name, name: existing.name, until: backoff.until, crashes: backoff.crashes, exitCode: last?.exitCode, cause: `crash loop: restart backed off ${formatMs(backoff.delayMs)}${exit}` });
        causes.add(`${existing.name} backing off`);
      } else {
        push({ ...base, kind: 'start-container', service: service.name, name: existing.name, containerId: existing.id, reason: last !== undefined && last.exitCode !== 0 ? 'crashed' : 'stopped', cause });
      }
    }
  }
  for (const c of surplus) {
    const reason: OperationReason = c.number > desiredCount ? 'scale-down' : 'duplicate';
    const cause = reason === 'scale-down' ? `scale down ${currentCount} → ${desiredCount}` : `duplicate of replica ${c.number}`;
    push({ ...base, kind: 'remove-container', service: service.name, name: c.name, containerId: c.id, reason, cause });
  }

  const action: ServiceChange['action'] = currentCount === 0 && desiredCount > 0
    ? 'create'
    : updated ? 'update' : currentCount !== desiredCount ? 'scale' : causes.size > 0 ? 'update' : 'unchanged';
  return { stack: service.stack, service: service.name, action, replicas: { from: currentCount, to: desiredCount }, causes: [...causes] };
}

function rolloutInfo(existing: ObservedContainer, direction: RolloutInfo['direction'], twin: ObservedContainer | undefined): RolloutInfo {
  const spec = decodeSpecLabel(existing.labels);
  return { direction, previous: spec === undefined ? undefined : { spec, specHash: existing.specHash }, twinId: twin?.id };
}

function runHistory(c: ObservedContainer, healing: HealingInput | undefined): readonly RunRecord[] {
  const known = healing?.runs.get(c.id) ?? [];
  const last = c.lastRun;
  if (last === undefined || known.some((r) => r.finishedAt === last.finishedAt)) return known;
  return [...known, last];
}

/**
 * A container whose listed image is another reference than Git's was made or
 * replaced by hand under our labels. A bare image id (the tag moved since the
 * create) is not drift: the container still runs what the tag named then.
 */
function imageDrifted(c: ObservedContainer, service: DesiredService): boolean {
  if (c.image === '' || c.image.startsWith('sha256:')) return false;
  return !sameImage(c.image, service.spec.image);
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

function groupContainers(containers: readonly ObservedContainer[]): Map<string, ObservedContainer[]> {
  const groups = new Map<string, ObservedContainer[]>();
  for (const c of containers) {
    const k = serviceKey(c.stack, c.service);
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [c]);
    else list.push(c);
  }
  return groups;
}

function preferRunning(a: ObservedContainer, b: ObservedContainer): number {
  return Number(b.state === 'running') - Number(a.state === 'running');
}
