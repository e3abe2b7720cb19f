// A cross-process lock file for a Git cache: created with O_EXCL, so only one
// process (daemon or one-shot command) writes into a cache at a time. A holder
// keeps its lock fresh; one untouched for `staleMs` belongs to a dead process.

import { open, stat, unlink, utimes } from 'node:fs/promises';

export interface FileLock {
  release(): Promise<void>;
}

const POLL_MS = 20;

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** One attempt: the lock, or undefined when a live holder has it. */
export async function tryLock(path: string, staleMs: number): Promise<FileLock | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return holding(path, staleMs);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
    const info = await stat(path).catch(() => undefined);
    // Gone between open and stat: the holder just released it, so try again.
    if (info !== undefined && Date.now() - info.mtimeMs < staleMs) return undefined;
    await unlink(path).catch(() => undefined);
  }
  return undefined;
}

/** Poll for up to `waitMs`; undefined if the lock stayed busy. */
export async function acquireLock(path: string, opts: { staleMs: number; waitMs: number }): Promise<FileLock | undefined> {
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const lock = await tryLock(path, opts.staleMs);
    if (lock !== undefined || Date.now() >= deadline) return lock;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function holding(path: string, staleMs: number): FileLock {
  // A long first clone must not look stale to others while this process is alive.
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, Math.max(1000, Math.floor(staleMs / 3)));
  refresh.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(refresh);
      await unlink(path).catch(() => undefined);
    },
  };
}
