// One reconcile pass, the same for every trigger: resolve the newest commit,
// load its desired state, take one snapshot of the engine, plan, apply.
// Level-based: nothing is remembered from the previous pass except caches
// keyed by immutable commits, so a crash anywhere is healed by the next pass.

import type { Backend, DeployContext } from '../backends/backend.js';
import { applyPlan } from '../apply/executor.js';
import { ApplyError } from '../errors.js';
import type { RolloutSupport } from '../apply/rollout.js';
import type { DesiredState } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import type { DigestChecker } from '../images/digest-check.js';
import type { Progress } from '../logging/progress.js';
import type { ImageFacts, ObservedState } from '../observed/model.js';
import type { Plan } from '../plan/operations.js';
import { planChanges, type HealingInput } from '../plan/planner.js';
import { contentReader, type ContentSources } from '../secrets/contents.js';
import type { GitSource } from '../source/git-source.js';
import { join } from 'node:path';
import { needsCheckout, type DesiredSource } from './desired-source.js';
import { migrateLegacyBinds } from './legacy-binds.js';
import type { StackBackoff } from './stack-backoff.js';

export interface PassContext {
  source: GitSource;
  backend: Backend;
  desired: DesiredSource;
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
  /** Rolling updates: router, readiness, the record of failed rollouts (whose revisions the planner holds). */
  rollout: RolloutSupport;
  /** The daemon's self-healing: crash-loop input for the planner, and a hook told what each pass planned. One-shot commands set neither. */
  healing?: HealingSource;
  onPlanned?: PlannedHook;
  /** The daemon's: stacks that keep failing the same way wait between attempts. One-shot commands try everything. */
  backoff?: StackBackoff;
  /** Looks up moving tags (pull_policy always, daily, …) in their registries; without it only the engine's images count. */
  digests?: Pick<DigestChecker, 'digests'>;
}

export interface PassResult {
  revision: string;
  plan: Plan;
  applied: number;
  /** What the pass worked from, for status: the desired state and the one snapshot taken before applying. */
  desired: DesiredState;
  observed: ObservedState;
  /** Set when changes were planned but held back (a closed sync window); nothing was applied. */
  held?: 'SyncWindowClosed';
}

/** The daemon's crash-loop input, computed from each pass's snapshot; one-shot commands pass none. */
export type HealingSource = (observed: ObservedState) => HealingInput;

/** What a pass planned, before applying: health reporting needs it even when applying then fails. */
export type PlannedHook = (planned: Omit<PassResult, 'applied'>) => void;

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
    loading.then((d) => imageFacts(ctx, d)),
  ]);
  const observed: ObservedState = images === undefined ? snapshot : { ...snapshot, images };
  return { desired, observed, plan: planChanges(desired, observed, ctx.healing?.(observed), held) };
}

/** The engine's copy of every registry image Git names (one inspect each), and the registry's digest of moving tags. */
async function imageFacts(ctx: PassContext, desired: DesiredState): Promise<ImageFacts | undefined> {
  if (ctx.backend.inspectImages === undefined) return undefined;
  const services = desired.stacks.flatMap((s) => s.services).filter((s) => s.spec.build === undefined);
  const refs = [...new Set(services.map((s) => s.spec.image))].sort();
  const [engine, registry] = await Promise.all([ctx.backend.inspectImages(refs), ctx.digests?.digests(services) ?? new Map<string, string>()]);
  return { engine, registry };
}

export async function reconcilePass(ctx: PassContext, opts: PassOptions = {}): Promise<PassResult> {
  const { desired, plan, observed } = await planPass(ctx, undefined, opts);
  ctx.onPlanned?.({ revision: desired.revision, plan, observed, desired });
  const log = ctx.logger.child({ revision: desired.revision });
  if (plan.operations.length === 0) {
    log.debug('no changes');
    return { revision: desired.revision, plan, applied: 0, observed, desired };
  }
  const started = ctx.rollout.now();
  const { plan: runnable, waiting } = ctx.backoff?.split(plan, started) ?? { plan, waiting: [] };
  let applied = 0;
  const failed = [...waiting];
  if (runnable.operations.length > 0) {
    const checkoutDir = needsCheckout(desired) ? await ctx.source.materialize(desired.revision) : undefined;
    const bindsDir = ctx.dataDir === undefined ? undefined : join(ctx.dataDir, 'binds');
    if (ctx.dataDir !== undefined && bindsDir !== undefined) await migrateLegacyBinds(observed, desired, { checkoutsDir: join(ctx.dataDir, 'checkouts'), bindsDir }, log);
    log.info({ operations: runnable.operations.length }, `applying ${runnable.operations.length} operation${runnable.operations.length === 1 ? '' : 's'}`);
    const readContent = contentReader(ctx.contents ?? { env: {}, ageKeyFile: undefined }, (id) => ctx.source.readBlob(desired.revision, id));
    const backoff = ctx.backoff;
    const deploy: DeployContext = { instance: ctx.instance, revision: desired.revision, checkoutDir, ...(bindsDir === undefined ? {} : { bindsDir }), publishPorts: ctx.publishPorts, readContent, ...(ctx.progress === undefined ? {} : { progress: ctx.progress }) };
    const outcome = await applyPlan(runnable, ctx.backend, deploy, {
      parallelism: ctx.parallelism,
      logger: log,
      rollout: ctx.rollout,
      ...(backoff === undefined ? {} : { repeated: (stack: string, operation: string, error: Error) => backoff.isRepeat(stack, operation, error) }),
    });
    ctx.backoff?.record(runnable, outcome.failed, ctx.rollout.now());
    applied = outcome.applied;
    failed.push(...outcome.failed);
  }
  if (failed.length > 0) throw new ApplyError(failed, desired.revision);
  return { revision: desired.revision, plan, applied, observed, desired };
}
