// Reads a commit's files straight from a Git object store (loose objects and
// packs, via isomorphic-git): the subtree the manifests need as text, or the
// whole tree written to disk once for relative bind mounts and build contexts.

import { syncFs as fs } from './sync-fs.js';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import git from 'isomorphic-git';
import { DataDirWriteError, GitRefNotFoundError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { RepoTree, TreeEntry } from '../manifests/repo-tree.js';

/** Where objects are read from; `cache` is isomorphic-git's per-process pack cache. */
export interface ObjectStore {
  gitdir: string;
  cache: object;
  /** Repository as shown to users. */
  display: string;
}

const FULL_SHA = /^[0-9a-f]{40}$/;
const MODE_SYMLINK = '120000';
const MODE_EXECUTABLE = '100755';

function isNotFound(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'NotFoundError';
}

/** `''`, `'.'`, `'./stacks/'` → segments of a repo-relative POSIX path. */
export function splitRepoPath(dir: string): string[] {
  return dir.split('/').filter((part) => part !== '' && part !== '.');
}

async function commitTree(store: ObjectStore, revision: string): Promise<string> {
  if (!FULL_SHA.test(revision)) throw new GitRefNotFoundError(store.display, revision);
  try {
    const { commit } = await git.readCommit({ fs, gitdir: store.gitdir, oid: revision, cache: store.cache });
    return commit.tree;
  } catch (err) {
    if (isNotFound(err)) throw new GitRefNotFoundError(store.display, revision);
    throw err;
  }
}

type Entry = { path: string; oid: string; mode: string; type: 'blob' | 'tree' | 'commit' };

/** Find `dir` inside the commit: a tree, a single file, or nothing. */
async function locate(store: ObjectStore, revision: string, segments: string[]): Promise<Entry | undefined> {
  let current: Entry = { path: '', oid: await commitTree(store, revision), mode: '040000', type: 'tree' };
  for (const name of segments) {
    if (current.type !== 'tree') return undefined;
    const { tree } = await git.readTree({ fs, gitdir: store.gitdir, oid: current.oid, cache: store.cache });
    const next = tree.find((entry) => entry.path === name);
    if (next === undefined) return undefined;
    current = { path: current.path === '' ? name : `${current.path}/${name}`, oid: next.oid, mode: next.mode, type: next.type };
  }
  return current;
}

/** Depth-first over the blobs under `root`, skipping what cannot be a plain file. */
async function* blobsUnder(store: ObjectStore, root: Entry, logger: Logger): AsyncGenerator<Entry> {
  if (root.type === 'commit') {
    logger.warn({ repo: store.display, path: root.path }, 'skipping submodule: its files are not part of this repository');
    return;
  }
  if (root.type === 'blob') {
    if (root.mode === MODE_SYMLINK) {
      // A symlink could point anywhere on the host; manifests must be plain files.
      logger.warn({ repo: store.display, path: root.path }, 'skipping symlink');
      return;
    }
    yield root;
    return;
  }
  const { tree } = await git.readTree({ fs, gitdir: store.gitdir, oid: root.oid, cache: store.cache });
  for (const entry of tree) {
    const path = root.path === '' ? entry.path : `${root.path}/${entry.path}`;
    yield* blobsUnder(store, { path, oid: entry.oid, mode: entry.mode, type: entry.type }, logger);
  }
}

/** One blob's bytes, straight from the object store: what a commit holds, whatever a checkout on disk became since. */
export async function readBlob(store: ObjectStore, oid: string): Promise<Uint8Array> {
  const { blob } = await git.readBlob({ fs, gitdir: store.gitdir, oid, cache: store.cache });
  return blob;
}

/** Every file under `dir` at `revision`, keyed by repo-relative path. A missing `dir` gives an empty map. */
export async function readFilesAt(store: ObjectStore, revision: string, dir: string, logger: Logger): Promise<Map<string, string>> {
  const root = await locate(store, revision, splitRepoPath(dir));
  const files = new Map<string, string>();
  if (root === undefined) return files;
  const decoder = new TextDecoder('utf-8');
  const entries: Entry[] = [];
  for await (const entry of blobsUnder(store, root, logger)) entries.push(entry);
  const contents = await inBatches(entries, (entry) => readBlob(store, entry.oid));
  entries.forEach((entry, i) => files.set(entry.path, decoder.decode(contents[i])));
  return files;
}

/**
 * Every directory and plain file of the commit with its Git id, reading
 * trees only (no blob contents): build contexts and secret files are found
 * and fingerprinted from it. Submodules are left out, as in checkouts;
 * symlinks are listed as `link` (never written to a checkout) so that a path
 * crossing one can be refused.
 */
export async function listTreeAt(store: ObjectStore, revision: string): Promise<RepoTree> {
  const out = new Map<string, TreeEntry>();
  const rootId = await commitTree(store, revision);
  out.set('.', { type: 'tree', id: rootId });
  const pending: { path: string; oid: string }[] = [{ path: '', oid: rootId }];
  while (pending.length > 0) {
    const dirs = pending.splice(0, BATCH);
    const trees = await Promise.all(dirs.map((d) => git.readTree({ fs, gitdir: store.gitdir, oid: d.oid, cache: store.cache })));
    dirs.forEach((dir, i) => {
      for (const entry of trees[i]?.tree ?? []) {
        const path = dir.path === '' ? entry.path : `${dir.path}/${entry.path}`;
        if (entry.type === 'tree') {
          out.set(path, { type: 'tree', id: entry.oid });
          pending.push({ path, oid: entry.oid });
        } else if (entry.type === 'blob') {
          out.set(path, { type: entry.mode === MODE_SYMLINK ? 'link' : 'blob', id: entry.oid });
        }
      }
    });
  }
  return out;
}

/** Reads overlap their file I/O; bounded so a big tree cannot exhaust file handles. */
const BATCH = 32;
async function inBatches<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(...(await Promise.all(items.slice(i, i + BATCH).map(fn))));
  return out;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Write the tree at `revision` to `<checkoutsDir>/<revision>` once. Files go to a
 * temp dir renamed into place, so a present directory is always complete, even
 * after a crash or when two processes materialize the same commit.
 */
export async function materializeAt(store: ObjectStore, revision: string, checkoutsDir: string, logger: Logger): Promise<string> {
  const target = join(checkoutsDir, revision);
  if (await exists(target)) return target;
  const root = await locate(store, revision, []);
  if (root === undefined) throw new GitRefNotFoundError(store.display, revision);
  const temp = join(checkoutsDir, `.tmp-${revision}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    await mkdir(temp, { recursive: true });
    const entries: Entry[] = [];
    for await (const entry of blobsUnder(store, root, logger)) entries.push(entry);
    const dirs = new Set(entries.map((entry) => dirname(join(temp, ...entry.path.split('/')))));
    for (const dir of dirs) await mkdir(dir, { recursive: true });
    await inBatches(entries, async (entry) => {
      const file = join(temp, ...entry.path.split('/'));
      await writeFile(file, await readBlob(store, entry.oid), { mode: entry.mode === MODE_EXECUTABLE ? 0o755 : 0o644 });
    });
    try {
      await rename(temp, target);
    } catch (err) {
      // Another process won the race; its copy is identical.
      if (!(await exists(target))) throw err;
    }
  } catch (err) {
    // Named as the checkout it was to be: the temp directory is gone with the error.
    throw DataDirWriteError.from(err, target);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return target;
}
