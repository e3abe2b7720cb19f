// A promise-shaped fs for isomorphic-git, backed by synchronous calls: reading an
// object costs several tiny file operations (loose probe, pack dir listing, pack
// read), and a thread-pool round trip for each made tree reads ~1 ms per file
// (now ~0.2 ms). The files are small and local; a fetched pack is in memory already.

import * as fs from 'node:fs';
import { DataDirWriteError } from '../errors.js';

type Args<F> = F extends (...args: infer A) => unknown ? A : never;

function wrap<F extends (...args: never[]) => unknown>(fn: F): (...args: Args<F>) => Promise<ReturnType<F>> {
  return (...args) =>
    new Promise((resolve, reject) => {
      try {
        resolve(fn(...args) as ReturnType<F>);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
}

/**
 * isomorphic-git probes for loose objects and refs that mostly do not exist;
 * answering null (which its FileSystem accepts as "missing") spares building
 * an exception with a stack for every probe.
 */
function readFileOrNull(path: string, options?: { encoding?: BufferEncoding | null } | BufferEncoding): Buffer | string | null {
  const info = fs.statSync(path, { throwIfNoEntry: false });
  if (info === undefined || info.isDirectory()) return null;
  return fs.readFileSync(path, options);
}

/**
 * Readers (one-shot commands) share the daemon's cache without its lock, so no
 * one may see half a file: every write lands under a temp name, then is renamed.
 */
function writeFileAtomic(path: string, data: string | Uint8Array, options?: fs.WriteFileOptions): void {
  const temp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    fs.writeFileSync(temp, data, options);
    fs.renameSync(temp, path);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw DataDirWriteError.from(err, path);
  }
}

/** A directory of the Git cache or the status repository; a full or read-only disk is said as such (with the path). */
function mkdirOrRefuse(path: string, options?: fs.MakeDirectoryOptions): string | undefined {
  try {
    return fs.mkdirSync(path, options);
  } catch (err) {
    throw DataDirWriteError.from(err, path);
  }
}

/**
 * isomorphic-git wraps the fs anew on every API call and tells promise-style
 * from callback-style by calling readFile() without arguments; answer that
 * probe with one shared rejection instead of a fresh TypeError each time.
 */
const PROBE_ERROR = new TypeError('readFile needs a path');
const readFile = wrap(readFileOrNull);

/** What isomorphic-git's FileSystem wrapper calls (it adds rm via rmdir/unlink itself). */
export const syncFs = {
  promises: {
    readFile: (...args: Parameters<typeof readFile>) => (typeof args[0] === 'string' ? readFile(...args) : Promise.reject(PROBE_ERROR)),
    writeFile: wrap(writeFileAtomic),
    mkdir: wrap(mkdirOrRefuse),
    rmdir: wrap(fs.rmdirSync),
    unlink: wrap(fs.unlinkSync),
    stat: wrap(fs.statSync),
    lstat: wrap(fs.lstatSync),
    readdir: wrap(fs.readdirSync),
    readlink: wrap(fs.readlinkSync),
    symlink: wrap(fs.symlinkSync),
    chmod: wrap(fs.chmodSync),
  },
};
