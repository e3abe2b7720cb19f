// Writing history without a work tree: blobs and trees are edited straight in
// the object store, and a commit is written on top of a given parent. Used by
// the status writer and by rollback; pushing is push.ts's job.

import { syncFs as fs } from './sync-fs.js';
import git, { type TreeEntry } from 'isomorphic-git';
import type { Author } from './author.js';
import { splitRepoPath, type ObjectStore } from './tree.js';

export const MODE_TREE = '040000';
export const MODE_FILE = '100644';

/** What a path holds in a tree: a blob (file) or a whole subtree. */
export interface TreeItem {
  oid: string;
  mode: string;
}

/** path → new content (string), an existing item, or null to delete. */
export type TreeEdits = ReadonlyMap<string, string | TreeItem | null>;


async function readTreeEntries(store: ObjectStore, oid: string | undefined): Promise<TreeEntry[]> {
  if (oid === undefined) return [];
  return (await git.readTree({ fs, gitdir: store.gitdir, oid, cache: store.cache })).tree;
}

/** Apply `edits` to `base` (undefined: the empty tree) and return the new tree's oid. */
export async function editTree(store: ObjectStore, base: string | undefined, edits: TreeEdits): Promise<string> {
  // Group edits by their first path segment, then recurse into subtrees.
  const here = new Map<string, string | TreeItem | null>();
  const below = new Map<string, Map<string, string | TreeItem | null>>();
  for (const [path, value] of edits) {
    const [head, ...rest] = splitRepoPath(path);
    if (head === undefined) continue;
    if (rest.length === 0) here.set(head, value);
    else {
      const sub = below.get(head) ?? new Map<string, string | TreeItem | null>();
      sub.set(rest.join('/'), value);
      below.set(head, sub);
    }
  }
  const entries = new Map((await readTreeEntries(store, base)).map((e) => [e.path, e]));
  for (const [name, value] of here) {
    if (value === null) entries.delete(name);
    else if (typeof value === 'string') {
      const oid = await git.writeBlob({ fs, gitdir: store.gitdir, blob: new TextEncoder().encode(value) });
      entries.set(name, { path: name, mode: MODE_FILE, oid, type: 'blob' });
    } else entries.set(name, { path: name, mode: value.mode, oid: value.oid, type: value.mode === MODE_TREE ? 'tree' : 'blob' });
  }
  for (const [name, sub] of below) {
    const current = entries.get(name);
    const oid = await editTree(store, current?.type === 'tree' ? current.oid : undefined, sub);
    // Git keeps no empty directories.
    if ((await readTreeEntries(store, oid)).length === 0) entries.delete(name);
    else entries.set(name, { path: name, mode: MODE_TREE, oid, type: 'tree' });
  }
  return git.writeTree({ fs, gitdir: store.gitdir, tree: [...entries.values()] });
}

/** The item at `path` in a tree, or undefined. */
export async function itemAt(store: ObjectStore, tree: string, path: string): Promise<TreeItem | undefined> {
  let current: TreeItem = { oid: tree, mode: MODE_TREE };
  for (const name of splitRepoPath(path)) {
    if (current.mode !== MODE_TREE) return undefined;
    const found = (await readTreeEntries(store, current.oid)).find((e) => e.path === name);
    if (found === undefined) return undefined;
    current = { oid: found.oid, mode: found.mode };
  }
  return current;
}

/** Every file path whose entry differs between two trees, with its item on each side (undefined: absent). */
export async function diffTrees(store: ObjectStore, a: string | undefined, b: string | undefined, prefix = ''): Promise<Map<string, { a: TreeItem | undefined; b: TreeItem | undefined }>> {
  const out = new Map<string, { a: TreeItem | undefined; b: TreeItem | undefined }>();
  if (a === b) return out;
  const left = new Map((await readTreeEntries(store, a)).map((e) => [e.path, e]));
  const right = new Map((await readTreeEntries(store, b)).map((e) => [e.path, e]));
  for (const name of new Set([...left.keys(), ...right.keys()])) {
    const l = left.get(name);
    const r = right.get(name);
    if (l?.oid === r?.oid && l?.mode === r?.mode) continue;
    const path = prefix === '' ? name : `${prefix}/${name}`;
    if (l?.type === 'tree' || r?.type === 'tree') {
      // A file turned directory (or back) shows as both sides changing.
      if (l !== undefined && l.type !== 'tree') out.set(path, { a: { oid: l.oid, mode: l.mode }, b: undefined });
      if (r !== undefined && r.type !== 'tree') out.set(path, { a: undefined, b: { oid: r.oid, mode: r.mode } });
      const sub = await diffTrees(store, l?.type === 'tree' ? l.oid : undefined, r?.type === 'tree' ? r.oid : undefined, path);
      for (const [k, v] of sub) out.set(k, v);
    } else {
      out.set(path, { a: l === undefined ? undefined : { oid: l.oid, mode: l.mode }, b: r === undefined ? undefined : { oid: r.oid, mode: r.mode } });
    }
  }
  return out;
}

export interface CommitInfo {
  oid: string;
  tree: string;
  parents: readonly string[];
  message: string;
  subject: string;
}

export async function readCommitInfo(store: ObjectStore, oid: string): Promise<CommitInfo> {
  const { commit } = await git.readCommit({ fs, gitdir: store.gitdir, oid, cache: store.cache });
  return { oid, tree: commit.tree, parents: commit.parent, message: commit.message, subject: commit.message.split('\n')[0] ?? '' };
}

/** The value of a `Key: value` trailer in a commit message, if present. */
export function trailer(message: string, key: string): string | undefined {
  const match = new RegExp(`^${key}:\\s*(\\S+)\\s*$`, 'm').exec(message);
  return match?.[1];
}

export async function writeCommitObject(store: ObjectStore, opts: { tree: string; parent: string | undefined; message: string; author: Author; timestampMs: number }): Promise<string> {
  const who = { name: opts.author.name, email: opts.author.email, timestamp: Math.floor(opts.timestampMs / 1000), timezoneOffset: 0 };
  return git.writeCommit({
    fs,
    gitdir: store.gitdir,
    commit: { message: opts.message.endsWith('\n') ? opts.message : `${opts.message}\n`, tree: opts.tree, parent: opts.parent === undefined ? [] : [opts.parent], author: who, committer: who },
  });
}
