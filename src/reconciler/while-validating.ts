// The daemon's view of the desired state while a new commit validates. A big
// commit takes a while to check (off the main thread, off-thread.ts); the
// passes that come meanwhile — a killed replica, another stack's drift —
// work from the last desired state that loaded, so healing never waits for
// the new commit. When its validation ends, the daemon is told, and its next
// pass takes the new commit (or reports why it is invalid).

import type { DesiredState } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import type { DesiredSource } from './desired-source.js';

export interface WhileValidatingOptions {
  /** How long a pass waits for a commit before going on with the last one: a normal commit validates well within it. */
  graceMs: number;
  /** The validation of `revision` ended (valid or not): time for a pass. */
  onSettled: (revision: string) => void;
  logger: Logger;
}

export class WhileValidating implements DesiredSource {
  private last: DesiredState | undefined;
  private readonly waiting = new Set<string>();

  constructor(
    private readonly inner: DesiredSource,
    private readonly opts: WhileValidatingOptions,
  ) {}

  async load(revision: string): Promise<DesiredState> {
    const loading = this.inner.load(revision);
    const last = this.last;
    if (last === undefined || last.revision === revision) return this.keep(await loading);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), this.opts.graceMs)));
    const first = await Promise.race([loading.then(() => 'done' as const, () => 'done' as const), grace]);
    clearTimeout(timer);
    if (first === 'done') return this.keep(await loading);
    if (!this.waiting.has(revision)) {
      this.waiting.add(revision);
      this.opts.logger.info({ revision }, `validating ${revision.slice(0, 7)} in the background; passes keep ${last.revision.slice(0, 7)} (and heal it) meanwhile`);
      const settled = (): void => {
        this.waiting.delete(revision);
        this.opts.onSettled(revision);
      };
      loading.then(settled, settled);
    }
    return last;
  }

  private keep(desired: DesiredState): DesiredState {
    this.last = desired;
    return desired;
  }
}
