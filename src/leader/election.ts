// One leader per instance (DESIGN §4). `capstan run` leads only while it
// holds every lock of its instance: always <data-dir>/<instance>.leader
// (./file-lock.ts), and with --engine-lease also a lease container on the
// engine (src/backends/docker/lease.ts). A second operator of the same
// instance says in its log that it waits and for whom, answers /readyz with
// 503 meanwhile, and takes over the moment its predecessor's locks are freed
// — when it stops, crashes or is killed. The router is a process of its own
// and keeps serving throughout; the new leader reuses it.

import { join } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { HeldLock, LeaderLock } from './lock.js';

export interface Leadership {
  /** Settles with a reason when any lock is lost while leading. */
  lost: Promise<string>;
  release(): Promise<void>;
}

export interface ElectionOptions {
  instance: string;
  /** Taken in this order; all are held while leading. */
  locks: readonly LeaderLock[];
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
  const log = opts.logger.child({ component: 'leader' });
  const held: HeldLock[] = [];
  let standby: { close(): Promise<void> } | undefined;
  let reason = '';
  let waited: string | undefined;
  try {
    for (const lock of opts.locks) {
      const holder = await lock.holder();
      if (holder !== undefined) {
        reason = `waiting to lead instance ${opts.instance}: ${holder} leads it (${lock.name})`;
        log.warn({ lock: lock.name, holder }, `${reason}; taking over when it stops`);
        waited = holder;
        standby ??= await opts.whileWaiting(() => reason);
      }
      const got = await lock.acquire(opts.signal);
      if (got === undefined) {
        await Promise.all(held.map((h) => h.release()));
        return undefined;
      }
      held.push(got);
    }
  } catch (err) {
    await Promise.all(held.map((h) => h.release()));
    throw err;
  } finally {
    await standby?.close();
  }
  const names = opts.locks.map((l) => l.name).join(' and ');
  if (waited === undefined) log.info({ locks: names }, `leading instance ${opts.instance}`);
  else log.warn({ locks: names, previous: waited }, `took over instance ${opts.instance} from ${waited}`);
  return {
    lost: Promise.race(held.map((h) => h.lost)),
    release: async () => void (await Promise.all(held.map((h) => h.release()))),
  };
}
