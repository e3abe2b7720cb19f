// What every command that plans or applies needs, and the plan of a whole
// revision against the live engine (`capstan plan`, GET /api/plan). Applying
// happens per stack, in lanes (stack-pass.ts); a plan is read-only and looks
// at everything at once.

import type { RolloutSupport } from '../apply/rollout.js';
import type { Backend } from '../backends/backend.js';
import type { DesiredState } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import type { Progress } from '../logging/progress.js';
import type { ObservedState } from '../observed/model.js';
import type { Plan } from '../plan/operations.js';
import { planChanges } from '../plan/planner.js';
import type { ContentSources } from '../secrets/contents.js';
import type { GitSource } from '../source/git-source.js';
import type { DesiredLoader } from './desired-source.js';

export interface PassContext {
  source: GitSource;
  backend: Backend;
  desired: DesiredLoader;
  instance: string;
  parallelism: number;
  /** False when the router serves published TCP ports; containers then publish none themselves. */
  publishPorts: boolean;
  /** Where secrets and configs from the environment and age keys come from; without it only plain files and inline configs can be read. */
  contents?: ContentSources;
  logger: Logger;
  /** Long work reports here: `capstan apply` draws it (live lines on a TTY), the daemon feeds its dashboard. */
  progress?: Progress;
  /** Rollouts: router, prober, the hold and progress records (the daemon swaps in its router and prober). */
  rollout: RolloutSupport;
}

export interface PassOptions {
  /** `apply --force`: try revisions whose rollout failed before, too. */
  force?: boolean;
}

/** Plan only: what applying `ref` (default: the branch) would do to the engine now. */
export async function planPass(ctx: PassContext, ref?: string, opts: PassOptions = {}): Promise<{ desired: DesiredState; plan: Plan; observed: ObservedState }> {
  // Git, Docker and the hold record are independent: ask all at once.
  const [desired, observed, held] = await Promise.all([
    ctx.source.resolve(ref).then((revision) => ctx.desired.load(revision)),
    ctx.backend.observe(ctx.instance),
    opts.force === true ? [] : ctx.rollout.held.list(),
  ]);
  return { desired, observed, plan: planChanges(desired, observed, undefined, held) };
}
