// What every command that plans or applies needs, and the plan of a whole
// revision against the live engine (`capstan plan`, GET /api/plan). Applying
// happens per stack, in lanes (stack-pass.ts); a plan is read-only and looks
// at everything at once.

import type { RolloutSupport } from '../apply/rollout.js';
import type { AnyBackend } from '../apply/port.js';
import type { DesiredService, DesiredState } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import type { DigestChecker } from '../images/digest-check.js';
import type { Progress } from '../logging/progress.js';
import type { ImageFacts, ObservedState } from '../observed/model.js';
import type { Plan } from '../plan/operations.js';
import type { ContentSources } from '../secrets/contents.js';
import type { GitSource } from '../source/git-source.js';
import type { DesiredLoader } from './desired-source.js';

export interface PassContext {
  source: GitSource;
  /** The port to the engine or the swarm: observe, plan, apply. */
  backend: AnyBackend;
  desired: DesiredLoader;
  instance: string;
  parallelism: number;
  /** False when the router serves published TCP ports; containers then publish none themselves. */
  publishPorts: boolean;
  /** Where secrets and configs from the environment and age keys come from; without it only plain files and inline configs can be read. */
  contents?: ContentSources;
  logger: Logger;
  /** Absolute data dir: data directories of relative binds live in its `binds/`; without it none can be mounted. */
  dataDir?: string;
  /** Long work reports here: `capstan apply` draws it (live lines on a TTY), the daemon feeds its dashboard. */
  progress?: Progress;
  /** Rollouts: router, prober, the hold and progress records (the daemon swaps in its router and prober). */
  rollout: RolloutSupport;
  /** Looks up moving tags (pull_policy always, daily, …) in their registries; without it only the engine's images count. */
  digests?: Pick<DigestChecker, 'digests'>;
}

export interface PassOptions {
  /** `apply --force`: try revisions whose rollout failed before, too. */
  force?: boolean;
}

/** Plan only: what applying `ref` (default: the branch) would do to the engine now. */
export async function planPass(ctx: PassContext, ref?: string, opts: PassOptions = {}): Promise<{ desired: DesiredState; plan: Plan; observed: ObservedState }> {
  // Git, Docker and the hold record are independent: ask all at once. Images wait for Git to name them.
  const loading = ctx.source.resolve(ref).then((revision) => ctx.desired.load(revision));
  const [desired, snapshot, held, images] = await Promise.all([
    loading,
    ctx.backend.observe(ctx.instance),
    opts.force === true ? [] : ctx.rollout.held.list(),
    loading.then((d) => imageFacts(ctx, d.stacks.flatMap((s) => s.services))),
  ]);
  const observed: ObservedState = images === undefined ? snapshot : { ...snapshot, images };
  return { desired, observed, plan: ctx.backend.plan(desired, observed, { held, force: opts.force === true }) };
}

/**
 * The engine's copy of every registry image of `services` (one inspect each),
 * and the registry's digest of moving tags. None on a swarm: its nodes pull
 * for themselves.
 */
export async function imageFacts(ctx: Pick<PassContext, 'backend' | 'digests'>, services: readonly DesiredService[]): Promise<ImageFacts | undefined> {
  const engine = ctx.backend.kind === 'docker' ? ctx.backend.engine : undefined;
  if (engine?.inspectImages === undefined) return undefined;
  const pulled = services.filter((s) => s.spec.build === undefined);
  const refs = [...new Set(pulled.map((s) => s.spec.image))].sort();
  const [onEngine, registry] = await Promise.all([engine.inspectImages(refs), ctx.digests?.digests(pulled) ?? new Map<string, string>()]);
  return { engine: onEngine, registry };
}
