// Which stacks a snapshot holds anything of: a stack gone from Git still gets
// a lane pass, which prunes what it left behind, on either backend.

import type { ObservedState } from './model.js';

export function observedStacks(observed: ObservedState): string[] {
  const swarm = observed.swarm;
  return [...new Set([
    ...observed.containers.map((c) => c.stack),
    ...observed.networks.map((n) => n.stack),
    ...(swarm?.services.map((s) => s.stack) ?? []),
    ...(swarm?.files.map((f) => f.stack) ?? []),
  ])].sort();
}
