// `capstan apply` while a daemon leads the instance (POST /api/apply): the
// daemon makes the pass in its own lanes rather than a second process racing
// it over the same containers. The request waits, per stack, for the passes
// that began after it, until one ends where a one-shot apply would stop
// (commandStopsAt); it is answered with what a one-shot apply prints.

import { CapstanError } from '../errors.js';
import { stepLine } from '../strategies/step.js';
import { commandStopsAt, type StackApplied } from './one-shot.js';
import type { ApplyAnswer } from '../server/apply-api.js';
import type { LaneOutcome } from './stack-pass.js';

/** A stack's passes as one apply saw them: done, or a pass that threw (the engine gone). */
type StackResult = StackApplied | { stack: string; error: Error };

type Ended = { pass: number; stack: string; outcome: LaneOutcome } | { pass: number; stack: string; error: Error };

interface Waiter {
  /** Passes numbered above this count: they began after the request and saw the newest commit. */
  after: number;
  seen: Map<string, { lines: string[]; applied: number }>;
  done: Map<string, StackResult>;
  stacks: ReadonlySet<string>;
  resolve: (results: StackResult[]) => void;
}

/** Passes remembered since the newest commit was taken in: a bound, not a history. */
const MAX_REMEMBERED = 1000;

export class ApplyRequests {
  private begun = 0;
  /** The last pass begun before the lanes' view of Git last changed: later ones work from the newest commit. */
  private changedAfter = 0;
  /** Passes ended since that change: a commit's own wakes may end before the request that fetched it waits. */
  private ended: Ended[] = [];
  private readonly waiters = new Set<Waiter>();

  /** A lane pass begins; its number goes back to passEnded or passFailed. */
  passBegins(): number {
    return ++this.begun;
  }

  /** The lanes' view of Git changed (called before the changed lanes are woken). */
  gitChanged(): void {
    this.changedAfter = this.begun;
    this.ended = [];
  }

  /** Where a request begins: call before it fetches, then hand the number to wait(). */
  opened(): number {
    return this.begun;
  }

  passEnded(pass: number, outcome: LaneOutcome): void {
    this.remember({ pass, stack: outcome.stack, outcome });
  }

  passFailed(pass: number, stack: string, error: Error): void {
    this.remember({ pass, stack, error });
  }

  /**
   * Waits for the passes of `stacks` that began after `opened` and after
   * Git last changed, until each stack reaches where a one-shot apply stops;
   * ends early, with what is known, when `signal` aborts (the daemon stopping).
   */
  wait(stacks: readonly string[], opened: number, signal: AbortSignal): Promise<StackResult[]> {
    return new Promise((resolve) => {
      const stopped = (): void => this.finish(w);
      // The listener goes with the request: one per request would pile up on the daemon's signal.
      const w: Waiter = { after: Math.max(opened, this.changedAfter), seen: new Map(), done: new Map(), stacks: new Set(stacks), resolve: (results) => {
        signal.removeEventListener('abort', stopped);
        resolve(results);
      } };
      this.waiters.add(w);
      signal.addEventListener('abort', stopped, { once: true });
      for (const e of this.ended) this.offer(w, e);
      if (w.done.size === w.stacks.size) this.finish(w);
    });
  }

  private remember(e: Ended): void {
    if (e.pass > this.changedAfter) {
      this.ended.push(e);
      if (this.ended.length > MAX_REMEMBERED) this.ended.shift();
    }
    for (const w of this.waiters) this.offer(w, e);
  }

  private offer(w: Waiter, e: Ended): void {
    if (e.pass <= w.after || !w.stacks.has(e.stack) || w.done.has(e.stack)) return;
    if ('error' in e) return this.settle(w, { stack: e.stack, error: e.error });
    const { outcome } = e;
    const seen = w.seen.get(e.stack) ?? { lines: [], applied: 0 };
    // The first pass's operations are the plan; later passes carry it out (rollout steps, dependents).
    if (!w.seen.has(e.stack)) seen.lines.push(...outcome.lines);
    seen.applied += outcome.applied;
    w.seen.set(e.stack, seen);
    if (commandStopsAt(outcome)) this.settle(w, { stack: e.stack, last: outcome, lines: seen.lines, applied: seen.applied });
  }

  private settle(w: Waiter, result: StackResult): void {
    w.done.set(result.stack, result);
    if (w.done.size === w.stacks.size) this.finish(w);
  }

  private finish(w: Waiter): void {
    if (!this.waiters.delete(w)) return;
    w.resolve([...w.done.values()].sort((a, b) => (a.stack < b.stack ? -1 : 1)));
  }
}

export function applyAnswer(instance: string, revision: string | undefined, asked: readonly string[], results: readonly StackResult[], windows: readonly string[], held: readonly string[]): ApplyAnswer {
  const finished = results.flatMap((r) => ('last' in r ? [r] : []));
  const failures = results.flatMap((r): ApplyAnswer['failures'] => {
    if (!('last' in r)) return [{ stack: r.stack, operation: `pass of ${r.stack}`, message: r.error.message, ...codeAndHint(r.error) }];
    return r.last.failures.map((f) => ({ stack: r.stack, operation: f.line, message: f.error.message, ...codeAndHint(f.error) }));
  });
  const windowHeld = finished.filter((r) => r.last.reason === 'SyncWindowClosed');
  const rolloutHeld = finished.some((r) => r.last.reason === 'RolloutHeld');
  return {
    instance,
    revision,
    lines: finished.flatMap((r) => r.lines),
    applied: finished.reduce((n, r) => n + r.applied, 0),
    failures,
    invalid: finished.flatMap((r) => r.last.invalid?.problems ?? []),
    windowHeld: windowHeld.length === 0 ? undefined : { changes: windowHeld.reduce((n, r) => n + r.last.planned, 0), windows: [...windows] },
    held: rolloutHeld ? [...held] : [],
    awaiting: finished.flatMap((r) => r.last.progress.filter((p) => p.awaitingPromotion === true).map((p) => ({ service: `${p.stack}/${p.service}`, step: stepLine(p) }))),
    unfinished: asked.filter((s) => !results.some((r) => r.stack === s)),
  };
}

function codeAndHint(error: Error): { code: string | undefined; hint: string | undefined } {
  return error instanceof CapstanError ? { code: error.code, hint: error.hint } : { code: undefined, hint: undefined };
}
