// The swarm backend behind the port: one snapshot of the manager, the
// planner's swarm expansion, the swarm executor. What Swarm cannot run is
// refused before anything is planned, all of it at once.

import type { SwarmPort } from './port.js';
import { swarmProblems } from '../backends/swarm/service-spec.js';
import { createSwarmEngine, type SwarmEngine } from '../backends/swarm/swarm-engine.js';
import type { DesiredState } from '../desired/model.js';
import { SwarmUnsupportedError } from '../errors.js';
import { planWith } from '../plan/planner.js';
import { swarmExpansion } from '../plan/swarm.js';
import { applySwarmStack, type RegistryAuth } from './swarm-apply.js';

export interface SwarmBackendOptions {
  /** Credentials for the images services run, passed on to Swarm (`--with-registry-auth`). */
  registryAuth?: RegistryAuth;
}

/** Fails at once (E_SWARM_NOT_MANAGER) when the engine is no manager of an active swarm: every call after would. */
export async function createSwarmBackend(opts: SwarmBackendOptions = {}): Promise<SwarmPort> {
  const engine = await createSwarmEngine();
  await engine.ping();
  return swarmPort(engine, opts.registryAuth);
}

export function swarmPort(engine: SwarmEngine, registryAuth: RegistryAuth = async () => undefined): SwarmPort {
  return {
    kind: 'swarm',
    endpoint: engine.endpoint,
    ping: () => engine.ping(),
    observe: (instance, scope) => engine.observe(instance, scope?.stack),
    plan: (desired, observed, { held, force }) => {
      refuseUnsupported(desired);
      return planWith(swarmExpansion(observed, { held, retryFailed: force === true }), desired, observed, held);
    },
    applyStack: (input, ctx, opts) => applySwarmStack(input, engine, ctx, opts, registryAuth),
  };
}

function refuseUnsupported(desired: DesiredState): void {
  const problems = desired.stacks.flatMap((stack) => stack.services.flatMap((s) => swarmProblems(s).map((p) => ({ stack: stack.name, service: s.name, ...p }))));
  if (problems.length > 0) throw new SwarmUnsupportedError(problems);
}
