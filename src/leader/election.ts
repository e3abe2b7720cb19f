// One leader per instance (DESIGN §4). `capstan run` leads only while it
// holds <data-dir>/<instance>.leader (./file-lock.ts). A second operator of
// the same instance on the same data dir says in its log that it waits and
// for whom, answers /readyz with 503 meanwhile, and takes over the moment
// the kernel frees the lock — when the leader stops, crashes or is killed.
// The router is a process of its own and keeps serving throughout; the new
// leader reuses it.

import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { acquireLock, describeHolder, isLocked, type HeldLock } from './file-lock.js';

export type Leadership = HeldLock;

export interface ElectionOptions {
  dataDir: string;
  instance: string;
  logger: Logger;
  signal: AbortSignal;
  /** Started when this operator has to wait (the standby API), closed once it leads or gives up. */
  whileWaiting: (reason: () => string) => Promise<{ close(): Promise<void> }>;
}

export function leaderLockPath(dataDir: string, instance: string): string {
  return join(dataDir, `${instance}.leader`);
}

/** Resolves once this operator leads; undefined when `signal` aborted the wait. */
export async function becomeLeader(opts: ElectionOptions): Promise<Leadership | undefined> {
  const path = leaderLockPath(opts.dataDir, opts.instance);
  const log = opts.logger.child({ component: 'leader' });
  if (!(await isLocked(path))) {
    const lock = await acquireLock(path, opts.signal);
    if (lock !== undefined) log.info({ lock: path }, `leading instance ${opts.instance}`);
    return lock;
  }
  const holder = (await describeHolder(path)) ?? 'another operator';
  const reason = `waiting to lead instance ${opts.instance}: ${holder} leads it (${path})`;
  log.warn({ lock: path, holder }, `${reason}; taking over when it stops`);
  const standby = await opts.whileWaiting(() => reason);
  let lock: HeldLock | undefined;
  try {
    lock = await acquireLock(path, opts.signal);
  } finally {
    await standby.close();
  }
  if (lock !== undefined) log.warn({ lock: path, previous: holder }, `took over instance ${opts.instance} from ${holder}`);
  return lock;
}
