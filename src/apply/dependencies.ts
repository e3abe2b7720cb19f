// depends_on conditions, honoured between the planner's dependency phases as
// Compose does on create and recreate: a service's replicas are created once
// each dependency with `service_healthy` reports healthy (Docker's
// healthcheck) or with `service_completed_successfully` has exited 0, as the
// pass's snapshot shows them. `service_started` needs no check: phase order
// already gives it. The executor postpones an unmet dependent to a later
// pass, up to its progress deadline (then a DependencyTimeoutError).

import type { ObservedContainer } from '../observed/model.js';

/** Why the condition does not hold yet, or undefined when it does. */
export function unmetReason(replicas: readonly ObservedContainer[], condition: string): string | undefined {
  if (replicas.length === 0) return 'no replica exists';
  if (condition === 'service_healthy') {
    const bad = replicas.find((c) => c.state !== 'running' || c.health !== 'healthy');
    if (bad === undefined) return undefined;
    if (bad.state === 'running' && bad.health === undefined) return `${bad.name} has no healthcheck`;
    return `${bad.name} is ${bad.state === 'running' ? bad.health : bad.state}`;
  }
  const bad = replicas.find((c) => c.state === 'running' || c.state === 'restarting' || c.state === 'created' || c.lastRun?.exitCode !== 0);
  if (bad === undefined) return undefined;
  return bad.lastRun === undefined || bad.state === 'running' ? `${bad.name} is ${bad.state}` : `${bad.name} exited with code ${bad.lastRun.exitCode}`;
}
