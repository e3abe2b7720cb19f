// Turns the validated stacks of one commit into the DesiredState that plan,
// apply and status share: stacks by name, services in dependency order,
// each with its spec hash. Pure and deterministic; the result is frozen.

import { deepFreeze } from '../manifests/freeze.js';
import type { ServiceSpec, StackSpec } from '../manifests/model.js';
import type { DesiredService, DesiredStack, DesiredState, EngineNames } from './model.js';
import { specHash } from './spec-hash.js';

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Kahn's algorithm, always taking the alphabetically first ready service, so
 * the order is stable. Validation rejects cycles; should one slip through,
 * the remaining services follow in name order rather than being dropped.
 */
export function dependencyOrder(services: Readonly<Record<string, { dependsOn: Readonly<Record<string, unknown>> }>>): string[] {
  const names = Object.keys(services).sort(byString);
  const placed = new Set<string>();
  const order: string[] = [];
  while (order.length < names.length) {
    const next = names.find((n) => !placed.has(n) && Object.keys(services[n]?.dependsOn ?? {}).every((d) => placed.has(d) || !Object.hasOwn(services, d)));
    if (next === undefined) {
      for (const n of names) if (!placed.has(n)) order.push(n);
      break;
    }
    placed.add(next);
    order.push(next);
  }
  return order;
}

/** Resolves the stack-local names a service uses to what the engine calls them. Validation guarantees each is declared. */
export function engineNamesOf(spec: ServiceSpec, stack: StackSpec): EngineNames {
  const networks: Record<string, string> = {};
  for (const n of spec.networks) networks[n] = stack.networks[n]?.engineName ?? `${stack.name}_${n}`;
  const volumes: Record<string, string> = {};
  for (const m of spec.volumes) {
    if (m.type === 'volume' && m.source !== '') volumes[m.source] = stack.volumes[m.source]?.engineName ?? `${stack.name}_${m.source}`;
  }
  return { networks, volumes };
}

export function buildDesired(revision: string, stacks: readonly StackSpec[]): DesiredState {
  const out: DesiredStack[] = [...stacks]
    .sort((a, b) => byString(a.name, b.name))
    .map((stack) => {
      const services: DesiredService[] = dependencyOrder(stack.services).map((name) => {
        const spec = stack.services[name];
        if (spec === undefined) throw new Error(`unreachable: service ${name} vanished`);
        return { stack: stack.name, name, spec, specHash: specHash(spec), engineNames: engineNamesOf(spec, stack) };
      });
      return { name: stack.name, file: stack.file, spec: stack, services };
    });
  return deepFreeze({ revision, stacks: out });
}
