// The service-level half of planning, shared by every backend: which
// services Git wants and at which spec (a held rollout keeps its restored
// spec), in which phase (depends_on levels), which owned services left Git
// and why, which networks and volumes a stack uses. A backend's expansion
// (containers.ts for the docker engine, swarm.ts for Swarm) turns each of
// these into its own operations; nothing here knows about containers or tasks.

import type { DesiredService, DesiredStack, DesiredState } from '../desired/model.js';
import type { NetworkSpec, ServiceSpec, VolumeSpec } from '../manifests/model.js';
import type { Direction, HeldRollout } from '../strategies/rolling.js';
import { describeSpecChange } from './spec-diff.js';

// Phases: orphans go first so a port or name they hold is free for what
// replaces them; then networks, volumes, secrets and configs; then services
// level by level of depends_on; what became unused last, once nothing uses it.
export const PHASE_ORPHANS = 0;
export const PHASE_INFRA = 1;
export const PHASE_SERVICES = 2;
export const PHASE_CLEANUP = 1000;

/** One desired service as this pass should converge it. */
export interface ServiceTarget {
  /** What to converge to: Git's service, or the restored spec of a rolled-back rollout. */
  service: DesiredService;
  /** `back` when converging to a restored spec: rollback_config applies. */
  direction: Direction;
  /** False while a rollout of this spec is held paused: what runs is kept, nothing replaced. */
  replaces: boolean;
  /** PHASE_SERVICES + depends_on depth. */
  phase: number;
}

/**
 * The service a held rollout keeps: rolled back → the restored spec (missing
 * replicas are made from it, leftovers of the failed spec go back to it);
 * paused or failed rolling back → Git's spec, but nothing is replaced.
 */
function heldTarget(service: DesiredService, held: HeldRollout | undefined): Pick<ServiceTarget, 'service' | 'direction' | 'replaces'> {
  if (held === undefined) return { service, direction: 'forward', replaces: true };
  if (held.end === 'rolled-back' && held.restored !== undefined) {
    return { service: { ...service, spec: held.restored.spec, specHash: held.restored.specHash }, direction: 'back', replaces: true };
  }
  return { service, direction: 'forward', replaces: false };
}

/** Every desired service of `stack` with its target; `holding` says which held rollout (if any) applies to a service. */
export function serviceTargets(stack: DesiredStack, holding: (service: DesiredService) => HeldRollout | undefined): ServiceTarget[] {
  const levels = dependencyLevels(stack);
  return stack.services.map((service) => ({ ...heldTarget(service, holding(service)), phase: PHASE_SERVICES + (levels.get(service.name) ?? 0) }));
}

/** Why an owned service must go, or undefined while Git still wants it. */
export function orphanCause(desired: DesiredState, stackName: string, service: string): string | undefined {
  const stack = desired.stacks.find((s) => s.name === stackName);
  if (stack === undefined) return `stack ${stackName} is no longer in Git`;
  return stack.services.some((s) => s.name === service) ? undefined : `service ${service} is no longer in ${stack.file}`;
}

/** Why a spec changed, in words; by hash when the spec it was made from is unreadable. `stackDir` shows bind sources as the manifest wrote them. */
export function specChangeCause(before: ServiceSpec | undefined, beforeHash: string, service: DesiredService, stackDir: string): string {
  const reasons = before === undefined ? [] : describeSpecChange(before, service.spec, stackDir);
  if (reasons.length > 0) return reasons.join(', ');
  return `spec changed (${beforeHash.slice(0, 12)} → ${service.specHash.slice(0, 12)})`;
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

export function usedNetworks(stack: DesiredStack): NetworkSpec[] {
  const names = new Set(stack.services.flatMap((s) => s.spec.networks));
  return Object.values(stack.spec.networks).filter((n) => names.has(n.name) && !n.external).sort((a, b) => a.engineName.localeCompare(b.engineName));
}

export function usedVolumes(stack: DesiredStack): VolumeSpec[] {
  const names = new Set(stack.services.flatMap((s) => s.spec.volumes.filter((m) => m.type === 'volume').map((m) => m.source)));
  return Object.values(stack.spec.volumes).filter((v) => names.has(v.name) && !v.external).sort((a, b) => a.engineName.localeCompare(b.engineName));
}

export function serviceKey(stack: string, service: string): string {
  return `${stack}\u0000${service}`;
}
