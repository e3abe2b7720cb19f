// depends_on conditions, honoured between the planner's dependency phases as
// Compose does on create and recreate: before a service's replicas are
// created, wait until each dependency with `service_healthy` reports healthy
// (Docker's healthcheck) or with `service_completed_successfully` has exited
// 0. `service_started` needs no wait: phase order already gives it. Bounded
// by the dependent's progress deadline, then a DependencyTimeoutError.

import type { Backend } from '../backends/backend.js';
import type { DesiredService } from '../desired/model.js';
import { DependencyTimeoutError } from '../errors.js';
import type { ObservedContainer } from '../observed/model.js';

export interface WaitOptions {
  instance: string;
  pollMs?: number;
  /** Injected for tests; defaults to real time. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Resolves when every condition of `service` holds; throws DependencyTimeoutError otherwise. */
export async function waitForDependencies(service: DesiredService, backend: Backend, opts: WaitOptions): Promise<void> {
  const conditions = Object.entries(service.spec.dependsOn).filter(([, c]) => c !== 'service_started');
  if (conditions.length === 0) return;
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const timeoutMs = service.spec.capstan.progressDeadlineMs;
  const deadline = now() + timeoutMs;
  for (;;) {
    const observed = await backend.observe(opts.instance);
    const unmet = conditions
      .map(([dep, condition]) => ({ dep, condition, why: unmetReason(observed.containers.filter((c) => c.stack === service.stack && c.service === dep), condition) }))
      .find((u) => u.why !== undefined);
    if (unmet === undefined) return;
    if (now() >= deadline) throw new DependencyTimeoutError(service.stack, service.name, unmet.dep, unmet.condition, timeoutMs, unmet.why ?? '');
    await sleep(opts.pollMs ?? 500);
  }
}

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
