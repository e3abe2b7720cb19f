// One pass of every stack for the one-shot commands (`capstan apply`, the
// converge benchmark): the newest commit's stacks, plus those only the engine
// still has (to prune), in lanes side by side; each lane is stepped until
// nothing more can be done now — its rollouts ended, its creates made —
// without waiting for replicas to become ready, as `docker compose up -d`.

import { observedStacks } from '../observed/stacks.js';
import type { StackReport } from '../status/reporter.js';
import type { PassContext } from './pass.js';
import type { RevisionModel } from './desired-source.js';
import { newLaneMemory, runStackPass, type LaneOutcome, type StackPassDeps } from './stack-pass.js';

/** Passes one stack may take (each a rollout step or a phase of creates); a bound a rollout that ends never reaches. */
const MAX_PASSES = 10_000;

export interface StackApplied {
  stack: string;
  /** How its last pass ended. */
  last: LaneOutcome;
  /** The first pass's planned operations, one line each. */
  lines: string[];
  applied: number;
}

/**
 * A one-shot command can do no more for the stack now: every rollout waits
 * for `capstan promote` (a manual canary step), or a rollout step did
 * nothing and named no time to look again. Passing again at once would only
 * snapshot the engine over and over (it did, 10,000 times) and report the
 * pause as applied.
 */
function waitsForSomeone(last: LaneOutcome): boolean {
  if (last.progress.length > 0 && last.progress.every((p) => p.awaitingPromotion === true)) return true;
  return last.reason === 'RolloutProgressing' && last.applied === 0 && last.requeueAt === undefined;
}

/**
 * Where one `capstan apply` is done with a stack: its pass converged, failed
 * or was held, it waits for readiness only (as `docker compose up -d`), or
 * for someone. A daemon asked to apply (POST /api/apply) stops waiting at the
 * same point.
 */
export function commandStopsAt(last: LaneOutcome): boolean {
  if (waitsForSomeone(last)) return true;
  return !(last.kind === 'superseded' || (last.kind === 'progressing' && last.reason !== 'AwaitingReadiness'));
}

export async function applyRevision(ctx: PassContext, model: RevisionModel, opts: {
  syncAllowed: boolean;
  force: boolean;
  report?: (stack: string, report: StackReport) => Promise<string | undefined>;
  /** Every pass's outcome, with the auto-revert its stack's report pushed (the last pass's): deploy events, as the daemon announces them. */
  passEnded?: (outcome: LaneOutcome, revert: string | undefined) => void;
}): Promise<StackApplied[]> {
  // One snapshot of everything: which stacks the engine holds, and what each lane's first pass looks at.
  const snapshot = await ctx.backend.observe(ctx.instance);
  const onEngine = observedStacks(snapshot);
  const stacks = [...new Set([...model.stacks.keys(), ...onEngine])].sort();
  const deps: StackPassDeps = {
    backend: ctx.backend, instance: ctx.instance, publishPorts: ctx.publishPorts, contents: ctx.contents,
    materialize: (rev) => ctx.source.materialize(rev), readBlob: (rev, id) => ctx.source.readBlob(rev, id), dataDir: ctx.dataDir, rollout: ctx.rollout, parallelism: ctx.parallelism, logger: ctx.logger, now: Date.now,
    syncAllowed: () => opts.syncAllowed, force: opts.force, hooks: undefined, report: undefined,
    ...(ctx.progress === undefined ? {} : { progress: ctx.progress }),
    ...(ctx.digests === undefined ? {} : { digests: ctx.digests }),
  };
  // One line for the whole command; rollouts and builds report their own.
  const progress = ctx.progress;
  let total = 0;
  let finished = 0;
  let failed = 0;
  const counted = (planned: number, done: number, failures: number): void => {
    total += planned;
    finished += done;
    failed += failures;
    if (total > 0) progress?.update('apply', `${Math.min(finished, total)}/${total} operations`, Math.min(1, finished / total));
  };
  const results = await Promise.all(stacks.map(async (stack) => {
    const memory = newLaneMemory();
    const lines: string[] = [];
    let applied = 0;
    // Status hears only how the stack ended up: one command, one commit per stack at most.
    let report: StackReport | undefined;
    const lane: StackPassDeps = { ...deps, report: opts.report === undefined ? undefined : async (_: string, r: StackReport) => ((report = r), undefined) };
    for (let i = 0; ; i++) {
      const last = await runStackPass(stack, model.stacks.get(stack), memory, i === 0 ? { ...lane, snapshot } : lane);
      if (i === 0) lines.push(...last.lines);
      applied += last.applied;
      // The operations of the first pass are the plan; later passes carry it out (rollout steps, dependents).
      counted(i === 0 ? last.planned : 0, last.applied, last.failures.length);
      if (commandStopsAt(last) || i >= MAX_PASSES) {
        const revert = report === undefined ? undefined : await opts.report?.(stack, report);
        opts.passEnded?.(last, revert);
        return { stack, last, lines, applied };
      }
      opts.passEnded?.(last, undefined);
      const wait = Math.max(0, (last.requeueAt ?? Date.now()) - Date.now());
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }));
  if (total > 0) progress?.done('apply', `${Math.min(finished, total)}/${total} operations applied${failed === 0 ? '' : `, ${failed} failed`}`, failed === 0);
  return results;
}
