// The data-dir leader lock: an exclusive flock(2) on <data-dir>/<instance>.leader,
// which the kernel frees when its holder dies, even by kill -9.
//
// Node has no flock, and a native addon would need a compiler on every
// machine that installs Capstan. So the lock is held by a small child
// process: `flock` from util-linux (essential on Debian and Ubuntu; BusyBox,
// and so Alpine, has the same applet and options) locks the file and runs
// `sh -c 'echo locked; read _'`, which says when it holds the lock and then
// waits on its stdin — a pipe whose only writer is this process. When this
// process ends, however it ends, the kernel closes the pipe, `read` sees
// end-of-file, the child exits and the kernel drops the lock. The child runs
// in its own process group, so a Ctrl-C meant for the operator cannot take
// the lock away while the operator still finishes its pass.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { LeadershipError } from '../errors.js';
import type { HeldLock, LeaderLock } from './lock.js';

export function fileLock(path: string): LeaderLock {
  return {
    name: path,
    holder: async () => ((await isLocked(path)) ? (await describeHolder(path)) ?? 'another operator' : undefined),
    acquire: (signal) => acquireLock(path, signal),
  };
}

/** Whether a `flock` program can be run here. */
export function flockAvailable(): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn('flock', ['-h'], { stdio: 'ignore' });
    child.once('error', () => done(false));
    child.once('exit', () => done(true));
  });
}

/** Who holds the lock, as its holder wrote it (`pid 123 on host h since 2026-…`), when it is readable. */
async function describeHolder(path: string): Promise<string | undefined> {
  try {
    const holder = JSON.parse(await readFile(path, 'utf8')) as { pid?: unknown; host?: unknown; since?: unknown };
    return `pid ${String(holder.pid)} on ${String(holder.host)} since ${String(holder.since)}`;
  } catch {
    return undefined;
  }
}

/** True when another process holds the lock right now. */
async function isLocked(path: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true });
  const child = spawn('flock', ['-x', '-n', path, 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const { code, stderr } = await exited(child).catch((err: unknown) => {
    throw lockError(path, err instanceof Error ? err.message : String(err));
  });
  if (code === 0) return false;
  if (code === 1 && stderr === '') return true;
  throw lockError(path, stderr);
}

/** Waits for the lock (or `signal`); undefined when aborted first. */
async function acquireLock(path: string, signal: AbortSignal): Promise<HeldLock | undefined> {
  await mkdir(dirname(path), { recursive: true });
  if (signal.aborted) return undefined;
  const child = spawn('flock', ['-x', path, 'sh', '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const got = await new Promise<boolean | Error>((resolve) => {
    const onAbort = (): void => {
      child.kill('SIGKILL');
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.once('data', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    });
    child.once('error', (err) => resolve(err));
    child.once('exit', () => resolve(lockError(path, stderr)));
  });
  if (got !== true) {
    if (got instanceof Error) throw got instanceof LeadershipError ? got : lockError(path, got.message);
    return undefined;
  }
  await writeFile(path, `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`);
  let releasing = false;
  const lost = new Promise<string>((resolve) => {
    child.once('exit', (code, sig) => {
      if (!releasing) resolve(`the process holding ${path} (pid ${child.pid ?? '?'}) ended (${sig ?? `code ${code}`})`);
    });
  });
  return {
    lost,
    async release() {
      releasing = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = exited(child);
      // End of its stdin is how it is meant to end; the kernel then drops the lock.
      child.stdin?.end();
      await done;
    },
  };
}

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stderr: stderr.trim() }));
  });
}

function lockError(path: string, detail: string): LeadershipError {
  const missing = /ENOENT/.test(detail);
  return new LeadershipError(
    `cannot lock ${path}${detail === '' ? '' : `: ${detail.trim()}`}`,
    missing ? 'install util-linux (it provides flock; on Alpine, BusyBox has it) so one operator per instance leads' : 'check that the data dir is writable and on a filesystem with flock (local, or NFSv4)',
  );
}
