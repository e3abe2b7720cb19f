// The one place deploy events come from. Fed twice per pass — when it starts
// applying changes to stacks, and with how each stack ended — it remembers
// per stack the deploy in flight, so each deploy of a revision is announced
// once (started, then converged, failed, rolled back or superseded) however
// many passes it takes, and heals of a converged stack announce nothing.
// Crash loops are reported when they begin and end, an invalid commit once
// per stack. Pure: no clock, no I/O; the events go to `emit` (src/notify/
// sends them on, the dashboard shows them). The lanes hand over how each pass
// ended, typed (src/reconciler/deploy-outcome.ts): nothing here reads status.

import type { DeployEvent } from './model.js';

/** How one pass ended for one stack. */
export type StackPassOutcome =
  | { stack: string; revision: string; outcome: 'converged'; message: string }
  | { stack: string; revision: string; outcome: 'progressing' | 'held' }
  /** Applying failed; `rolledBack` when a rollout was undone, `revert` when an auto-revert commit was pushed for it. */
  | { stack: string; revision: string; outcome: 'failed'; reason: string; imagePull: boolean; rolledBack: boolean; revert: string | undefined }
  /** Applied, but replicas crash-loop or fail: a failed deploy while one is in flight, a heal otherwise. */
  | { stack: string; revision: string; outcome: 'degraded'; reason: string }
  /** The newest commit's manifests are invalid for the stack (`revision` is that commit): nothing of it was applied. */
  | { stack: string; revision: string; outcome: 'invalid'; reason: string };

export interface CrashLoopFact {
  stack: string;
  service: string;
  replica: string;
  exitCode: number | undefined;
  lastLogLines: readonly string[];
}

type DeployState = { revision: string; state: 'deploying' | 'failed' | 'converged' };

export class DeployEvents {
  private readonly deploys = new Map<string, DeployState>();
  private loops = new Map<string, CrashLoopFact>();
  /** Per stack, the invalid revision already reported. */
  private readonly invalid = new Map<string, string>();

  constructor(private readonly emit: (event: DeployEvent) => void) {}

  /** A pass is about to apply changes of `revision` to `stacks`. */
  started(revision: string, stacks: Iterable<string>): void {
    for (const stack of stacks) {
      const current = this.deploys.get(stack);
      // The same revision again: a retry or a heal, not a new deploy.
      if (current?.revision === revision) continue;
      if (current?.state === 'deploying') this.emit({ kind: 'deploy.superseded', stack, revision: current.revision, by: revision });
      this.deploys.set(stack, { revision, state: 'deploying' });
      this.emit({ kind: 'deploy.started', stack, revision });
    }
  }

  /** How the pass ended for `outcomes`' stacks, and the crash loops those stacks have now. */
  passEnded(outcomes: readonly StackPassOutcome[], crashLoops: readonly CrashLoopFact[]): void {
    for (const o of outcomes) this.stackEnded(o);
    this.crashLoopsNow(new Set(outcomes.map((o) => o.stack)), crashLoops);
  }

  /** Events that do not come from a pass (an image update committed). */
  report(event: DeployEvent): void {
    this.emit(event);
  }

  private stackEnded(o: StackPassOutcome): void {
    const current = this.deploys.get(o.stack);
    switch (o.outcome) {
      case 'converged':
        // A deploy in flight converged, even when a later commit did not touch this stack (its revision then differs).
        if (current !== undefined && current.state !== 'converged') this.emit({ kind: 'deploy.converged', stack: o.stack, revision: current.revision, message: o.message });
        this.deploys.set(o.stack, { revision: current?.state === 'converged' || current === undefined ? o.revision : current.revision, state: 'converged' });
        return;
      case 'failed':
        if (current?.revision === o.revision && current.state === 'failed') return;
        this.deploys.set(o.stack, { revision: o.revision, state: 'failed' });
        this.emit(o.rolledBack ? { kind: 'deploy.rolled-back', stack: o.stack, revision: o.revision, reason: o.reason } : { kind: 'deploy.failed', stack: o.stack, revision: o.revision, reason: o.reason, cause: o.imagePull ? 'image-pull' : 'apply' });
        if (o.revert !== undefined) this.emit({ kind: 'deploy.auto-reverted', stack: o.stack, revision: o.revision, revert: o.revert, reason: o.reason });
        return;
      case 'degraded':
        if (current?.state !== 'deploying') return;
        this.deploys.set(o.stack, { revision: current.revision, state: 'failed' });
        this.emit({ kind: 'deploy.failed', stack: o.stack, revision: current.revision, reason: o.reason, cause: 'replicas' });
        return;
      case 'invalid':
        if (this.invalid.get(o.stack) === o.revision) return;
        this.invalid.set(o.stack, o.revision);
        this.emit({ kind: 'deploy.invalid', stack: o.stack, revision: o.revision, reason: o.reason });
        return;
      case 'progressing':
      case 'held':
        return;
    }
  }

  /** Crash loops of `stacks` now: the others' stay as their own passes left them. */
  private crashLoopsNow(stacks: ReadonlySet<string>, facts: readonly CrashLoopFact[]): void {
    const now = new Map(facts.filter((f) => stacks.has(f.stack)).map((f) => [`${f.stack}/${f.service}/${f.replica}`, f]));
    for (const [key, f] of now) {
      if (!this.loops.has(key)) this.emit({ kind: 'crash-loop.started', stack: f.stack, service: f.service, replica: f.replica, exitCode: f.exitCode, lastLogLines: f.lastLogLines });
    }
    for (const [key, f] of this.loops) {
      if (!stacks.has(f.stack) || now.has(key)) continue;
      this.loops.delete(key);
      this.emit({ kind: 'crash-loop.ended', stack: f.stack, service: f.service, replica: f.replica });
    }
    for (const [key, f] of now) this.loops.set(key, f);
  }
}
