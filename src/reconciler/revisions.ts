// The daemon's one view of Git (DESIGN §4 "Lanes"): a trigger (poll, webhook,
// file watch, resync, API) resolves the newest commit once, loads it, and
// names the stacks whose inputs changed by Git id — their lanes are woken,
// no others. Triggers that arrive while a fetch runs are coalesced into one
// more fetch. A stack whose inputs did not change keeps the revision it was
// last changed at, so an unrelated commit neither wakes its lane nor moves
// its status.

import type { Logger } from '../logging/logger.js';
import type { GitSource } from '../source/git-source.js';
import type { DesiredLoader, StackAtRevision } from './desired-source.js';

/** A load that takes longer than this is logged as validating in the background. */
const SLOW_LOAD_MS = 250;

export interface RevisionsOptions {
  source: Pick<GitSource, 'resolve'>;
  desired: Pick<DesiredLoader, 'loadRevision'>;
  /** Stacks whose inputs changed (or that left Git), with why. */
  onChanged: (stacks: readonly string[], reason: string) => void;
  /** Resolving or loading failed (Git unreachable, a broken cache); the lanes keep working from what they have. */
  onError: (error: Error) => void;
  /** The first refresh after failures succeeded. */
  onRecovered: () => void;
  logger: Logger;
}

export class Revisions {
  private stacks = new Map<string, StackAtRevision>();
  private head: string | undefined;
  private running: Promise<void> | undefined;
  private again: string | undefined;
  private failing = false;
  /** Why the newest refresh failed, until one succeeds. */
  private failure: Error | undefined;

  constructor(private readonly opts: RevisionsOptions) {}

  /** The newest commit resolved so far (undefined before the first). */
  revision(): string | undefined {
    return this.head;
  }

  /** What a lane works from: its stack at the revision its inputs last changed (undefined: not in Git). */
  stack(name: string): StackAtRevision | undefined {
    return this.stacks.get(name);
  }

  /** Why the newest fetch or load failed (the lanes work from the last good one meanwhile); undefined once one succeeded. */
  lastFailure(): Error | undefined {
    return this.failure;
  }

  names(): string[] {
    return [...this.stacks.keys()].sort();
  }

  /** Resolves when this trigger's fetch (or the one it was coalesced into) is done; never throws. */
  refresh(reason: string): Promise<void> {
    if (this.running !== undefined) {
      this.again = reason;
      return this.running;
    }
    this.running = this.loop(reason).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async loop(reason: string): Promise<void> {
    let current: string | undefined = reason;
    while (current !== undefined) {
      this.again = undefined;
      await this.once(current);
      current = this.again;
    }
  }

  private async once(reason: string): Promise<void> {
    let model;
    try {
      const revision = await this.opts.source.resolve();
      // Memoized by revision (and host files): an unchanged head costs no blob reads.
      // A big commit validates off the main thread; the lanes keep healing meanwhile.
      const last = this.head;
      const slow = last === undefined || last === revision ? undefined : setTimeout(() => {
        this.opts.logger.info({ revision }, `validating ${revision.slice(0, 7)} in the background; lanes keep healing ${last.slice(0, 7)} meanwhile`);
      }, SLOW_LOAD_MS);
      slow?.unref();
      try {
        model = await this.opts.desired.loadRevision(revision);
      } finally {
        if (slow !== undefined) clearTimeout(slow);
      }
    } catch (err) {
      this.failing = true;
      this.failure = err instanceof Error ? err : new Error(String(err));
      this.opts.onError(this.failure);
      return;
    }
    this.failure = undefined;
    if (this.failing) {
      this.failing = false;
      this.opts.onRecovered();
    }
    const changed: string[] = [];
    const next = new Map<string, StackAtRevision>();
    for (const [name, at] of model.stacks) {
      const before = this.stacks.get(name);
      if (before !== undefined && before.fingerprint === at.fingerprint) next.set(name, before);
      else {
        next.set(name, at);
        changed.push(name);
      }
    }
    for (const name of this.stacks.keys()) if (!next.has(name)) changed.push(name);
    const first = this.head === undefined;
    this.head = model.revision;
    this.stacks = next;
    if (changed.length > 0 || first) {
      this.opts.logger.info({ revision: model.revision, reason, changed }, `${model.revision.slice(0, 7)}: ${changed.length === 0 ? 'no stack changed' : `${changed.join(', ')} changed`}`);
    }
    if (changed.length > 0) this.opts.onChanged(changed, `${reason}: ${model.revision.slice(0, 7)}`);
  }
}
