// The docker backend behind the port: the planner's container expansion,
// run by the executor (rolling updates, readiness, the router) against one
// engine.

import type { Backend } from '../backends/backend.js';
import type { DockerPort } from './port.js';
import { planChanges } from '../plan/planner.js';
import { applyStackPlan } from './executor.js';

export function dockerPort(engine: Backend): DockerPort {
  return {
    kind: 'docker',
    engine,
    endpoint: engine.endpoint,
    ping: () => engine.ping(),
    observe: (instance, scope) => engine.observe(instance, scope),
    plan: (desired, observed, { held, healing }) => planChanges(desired, observed, healing, held),
    applyStack: (input, ctx, opts) => applyStackPlan(input, engine, ctx, opts),
  };
}
