// The planner: a pure function from desired + observed to an ordered plan
// (Compose's plan.go idea). It reads no clock and does no I/O, so the same
// inputs always give the same plan, and plans are tested as golden text.

import { posix } from 'node:path';
import type { DesiredService, DesiredStack, DesiredState } from '../desired/model.js';
import { canaryName, LABEL, replicaName, twinName } from '../desired/labels.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import { crashBackoff, type RunRecord } from '../health/backoff.js';
import { sameImage } from '../manifests/image-ref.js';
import type { ImageFacts, ObservedContainer, ObservedState } from '../observed/model.js';
import { holds, type HeldRollout } from '../strategies/rolling.js';
import type { HeldBack, Operation, OperationDraft as Draft, OperationReason, Plan, RolloutInfo, ServiceChange } from './operations.js';
import { operationTarget } from './render.js';
import { describeSpecChange } from './spec-diff.js';
import { digestMove, pinnedTo, planPulls } from './images.js';

// Phases: orphans go first so a port or name they hold is free for what
// replaces them; then networks and volumes; then services level by level
// of depends_on; unused networks last, once nothing is attached.
const PHASE_ORPHANS = 0;
const PHASE_INFRA = 1;
const PHASE_SERVICES = 2;
const PHASE_CLEANUP = 1000;


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

/**
 * `held`: rollouts that failed before (from the driver's record); a service
 * still at that revision and spec is kept at what it was restored to.
 */
export function planChanges(desired: DesiredState, observed: ObservedState, healing?: HealingInput, held: readonly HeldRollout[] = []): Plan {
  const operations: Draft[] = [];
  const heldBack: HeldBack[] = [];
  const services: ServiceChange[] = [];
  const desiredStacks = new Set(desired.stacks.map((s) => s.name));
  const heldRollouts: HeldRollout[] = [];

  const byService = groupContainers(observed.containers);
  for (const stack of desired.stacks) {
    const holding = (service: DesiredService): HeldRollout | undefined => {
      const h = held.find((x) => x.stack === service.stack && x.service === service.name && holds(x, desired.revision, service.specHash));
      if (h !== undefined) heldRollouts.push(h);
      return h;
    };
    planStack(stack, observed, byService, operations, services, heldBack, healing, holding);
  }
  planOrphans(desired, byService, operations, services);
  // First in their phase, so a plan reads "pull, then create".
  operations.unshift(...planPulls(desired.stacks.flatMap((s) => s.services), operations, observed.images, PHASE_INFRA));

  for (const network of observed.networks) {
    const stack = desired.stacks.find((s) => s.name === network.stack);
    const stillWanted = stack !== undefined && usedNetworks(stack).some((n) => n.engineName === network.name);
    if (stillWanted) continue;
    operations.push({
      kind: 'remove-network', stack: network.stack, name: network.name, networkId: network.id, phase: PHASE_CLEANUP,
      reason: desiredStacks.has(network.stack) ? 'network-unused' : 'stack-removed',
      cause: desiredStacks.has(network.stack) ? `no service of stack ${network.stack} uses it` : `stack ${network.stack} is no longer in Git`,
    });
  }

  return { revision: desired.revision, instance: observed.instance, operations: sortOperations(operations), services, heldBack, heldRollouts };
}

function planStack(
  stack: DesiredStack,
  observed: ObservedState,
  byService: Map<string, ObservedContainer[]>,
  operations: Draft[],
  changes: ServiceChange[],
  heldBack: HeldBack[],
  healing: HealingInput | undefined,
  holding: (service: DesiredService) => HeldRollout | undefined,
): void {
  for (const network of usedNetworks(stack)) {
    if (observed.networks.some((n) => n.name === network.engineName)) continue;
    operations.push({ kind: 'create-network', stack: stack.name, network, phase: PHASE_INFRA, reason: 'network-missing', cause: `network ${network.engineName} does not exist` });
  }
  for (const volume of usedVolumes(stack)) {
    if (observed.volumes.some((v) => v.name === volume.engineName)) continue;
    operations.push({ kind: 'create-volume', stack: stack.name, volume, phase: PHASE_INFRA, reason: 'volume-missing', cause: `volume ${volume.engineName} does not exist` });
  }

  const levels = dependencyLevels(stack);
  for (const service of stack.services) {
    const phase = PHASE_SERVICES + (levels.get(service.name) ?? 0);
    const observedReplicas = byService.get(key(stack.name, service.name)) ?? [];
    changes.push(planService(service, observedReplicas, phase, operations, heldBack, healing, holding(service), observed.images, posix.dirname(stack.file)));
  }
}

/**
 * The service a held rollout keeps: rolled back → the restored spec (missing
 * replicas are made from it, leftovers of the failed spec go back to it);
 * paused or failed rolling back → Git's spec, but nothing is replaced.
 */
function heldTarget(service: DesiredService, held: HeldRollout | undefined): { target: DesiredService; direction: RolloutInfo['direction']; replaces: boolean } {
  if (held === undefined) return { target: service, direction: 'forward', replaces: true };
  if (held.end === 'rolled-back' && held.restored !== undefined) {
    return { target: { ...service, spec: held.restored.spec, specHash: held.restored.specHash }, direction: 'back', replaces: true };
  }
  return { target: service, direction: 'forward', replaces: false };
}

function planService(
  gitService: DesiredService,
  current: readonly ObservedContainer[],
  phase: number,
  operations: Draft[],
  heldBack: HeldBack[],
  healing: HealingInput | undefined,
  held: HeldRollout | undefined,
  images: ImageFacts | undefined,
  stackDir: string,
): ServiceChange {
  const { target: service, direction, replaces } = heldTarget(gitService, held);
  const desiredCount = service.spec.replicas;
  const base = { stack: service.stack, phase };
  const causes = new Set<string>();
  let updated = false;
  const push = (op: Draft): void => {
    operations.push(op);
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
      const cause = direction === 'back' ? `roll back: ${recreateCause(existing, service, stackDir)}` : recreateCause(existing, service, stackDir);
      push({ ...base, kind: 'recreate-container', service, number: n, name, containerId: existing.id, update, reason: direction === 'back' ? 'roll-back' : 'spec-changed', cause });
    } else if (existing.specHash === service.specHash && replaces && digestMove(existing, service, images) !== undefined) {
      const move = digestMove(existing, service, images);
      // The way back from a moved tag is the digest the replica ran, pinned.
      const update: RolloutInfo = { direction, previous: move === undefined ? undefined : pinnedTo(service, move.from), twinId: undefined, targetDigest: move?.to };
      push({ ...base, kind: 'recreate-container', service, number: n, name, containerId: existing.id, update, reason: 'image-moved', cause: move?.cause ?? '' });
    } else if (existing.specHash === service.specHash && imageDrifted(existing, service)) {
      push({ ...base, kind: 'recreate-container', service, number: n, name, containerId: existing.id, update: rolloutInfo(existing, direction, undefined), reason: 'image-drift', cause: `drift: container ${name} runs image ${existing.image}, Git says ${service.spec.image}` });
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

function recreateCause(existing: ObservedContainer, service: DesiredService, stackDir: string): string {
  const before = decodeSpecLabel(existing.labels);
  const reasons = before === undefined ? [] : describeSpecChange(before, service.spec, stackDir);
  if (reasons.length > 0) return reasons.join(', ');
  return `spec changed (${existing.specHash.slice(0, 12)} → ${service.specHash.slice(0, 12)})`;
}

function planOrphans(
  desired: DesiredState,
  byService: Map<string, ObservedContainer[]>,
  operations: Draft[],
  changes: ServiceChange[],
): void {
  for (const [k, containers] of [...byService].sort(([a], [b]) => a.localeCompare(b))) {
    const first = containers[0];
    if (first === undefined) continue;
    const stack = desired.stacks.find((s) => s.name === first.stack);
    if (stack?.services.some((s) => key(s.stack, s.name) === k)) continue;
    const reason: OperationReason = stack === undefined ? 'stack-removed' : 'service-removed';
    const cause = stack === undefined
      ? `stack ${first.stack} is no longer in Git`
      : `service ${first.service} is no longer in ${stack.file}`;
    for (const c of containers) {
      operations.push({ kind: 'remove-container', stack: c.stack, service: c.service, name: c.name, containerId: c.id, phase: PHASE_ORPHANS, reason, cause });
    }
    changes.push({ stack: first.stack, service: first.service, action: 'remove', replicas: { from: containers.length, to: 0 }, causes: [cause] });
  }
}

/** depends_on depth within a stack: a service starts after everything it depends on. */
function dependencyLevels(stack: DesiredStack): Map<string, number> {
  const levels = new Map<string, number>();
  // stack.services is already in dependency order, so one forward sweep suffices.
  for (const service of stack.services) {
    let level = 0;
    for (const dep of Object.keys(service.spec.dependsOn)) level = Math.max(level, (levels.get(dep) ?? 0) + 1);
    levels.set(service.name, level);
  }
  return levels;
}

function usedNetworks(stack: DesiredStack) {
  const names = new Set(stack.services.flatMap((s) => s.spec.networks));
  return Object.values(stack.spec.networks).filter((n) => names.has(n.name) && !n.external).sort((a, b) => a.engineName.localeCompare(b.engineName));
}

function usedVolumes(stack: DesiredStack) {
  const names = new Set(stack.services.flatMap((s) => s.spec.volumes.filter((m) => m.type === 'volume').map((m) => m.source)));
  return Object.values(stack.spec.volumes).filter((v) => names.has(v.name) && !v.external).sort((a, b) => a.engineName.localeCompare(b.engineName));
}

function groupContainers(containers: readonly ObservedContainer[]): Map<string, ObservedContainer[]> {
  const groups = new Map<string, ObservedContainer[]>();
  for (const c of containers) {
    const k = key(c.stack, c.service);
    const list = groups.get(k);
    if (list === undefined) groups.set(k, [c]);
    else list.push(c);
  }
  return groups;
}

function key(stack: string, service: string): string {
  return `${stack}\u0000${service}`;
}

function preferRunning(a: ObservedContainer, b: ObservedContainer): number {
  return Number(b.state === 'running') - Number(a.state === 'running');
}

/** Stable order: by phase, then stack, then the order the planner produced (services in dependency order, slots ascending). */
function sortOperations(operations: Draft[]): Operation[] {
  return operations
    .map((op, i) => ({ op, i }))
    .sort((a, b) => a.op.phase - b.op.phase || a.op.stack.localeCompare(b.op.stack) || a.i - b.i)
    .map(({ op }) => {
      const withId = { ...op, id: '' } as Operation;
      return { ...withId, id: `${op.kind}:${op.stack}/${operationTarget(withId)}` } as Operation;
    });
}
