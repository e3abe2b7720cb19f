// The trees of a revert and of a roll-back-to, computed in the object store:
// `git revert` of one non-merge commit (each path it changed gets its
// parent's version back) and "this directory as of that commit". Refuses
// instead of guessing when a later commit changed the same files.

import { RollbackError } from '../errors.js';
import { diffTrees, editTree, itemAt, readCommitInfo, trailer, type CommitInfo, type TreeItem } from './commit.js';
import { splitRepoPath, type ObjectStore } from './tree.js';

/** Trailer Capstan puts on the reverts it pushes itself; such a commit is never auto-reverted. */
export const AUTO_REVERT_TRAILER = 'Capstan-Auto-Revert';

/** The newest commit at or below `tip` that changed something under `path`, looking at most `limit` commits back. */
export async function newestChangeUnder(store: ObjectStore, tip: string, path: string, limit = 1000): Promise<CommitInfo> {
  let oid: string | undefined = tip;
  for (let i = 0; i < limit && oid !== undefined; i++) {
    const commit = await readCommitInfo(store, oid);
    const parent = commit.parents[0];
    const before = parent === undefined ? undefined : await subtree(store, (await readCommitInfo(store, parent)).tree, path);
    const after = await subtree(store, commit.tree, path);
    if (before?.oid !== after?.oid) return commit;
    oid = parent;
  }
  throw new RollbackError(`no commit in the last ${limit} of the branch changed ${path}`, 'give the commit to go back to with --to SHA');
}

async function subtree(store: ObjectStore, tree: string, path: string): Promise<TreeItem | undefined> {
  return splitRepoPath(path).length === 0 ? { oid: tree, mode: '040000' } : itemAt(store, tree, path);
}

/** The tree of `tipTree` with `target`'s changes undone, as `git revert target` makes it. */
export async function revertTree(store: ObjectStore, tipTree: string, target: CommitInfo): Promise<string> {
  const parent = target.parents[0];
  if (parent === undefined) throw new RollbackError(`${target.oid.slice(0, 7)} is the first commit; there is nothing before it to go back to`, 'remove the stacks in a new commit instead');
  if (target.parents.length > 1) throw new RollbackError(`${target.oid.slice(0, 7)} is a merge commit`, 'revert it with `git revert -m 1` yourself, or use --to SHA');
  const changes = await diffTrees(store, (await readCommitInfo(store, parent)).tree, target.tree);
  const edits = new Map<string, TreeItem | null>();
  for (const [path, { a: before, b: after }] of changes) {
    const now = await itemAt(store, tipTree, path);
    if (now?.oid !== after?.oid) {
      throw new RollbackError(`${path} changed again after ${target.oid.slice(0, 7)}`, 'revert the later commits first, or use --to SHA');
    }
    edits.set(path, before ?? null);
  }
  return editTree(store, tipTree, edits);
}

/** The tree of `tipTree` with `path` exactly as it was at `source` (removed if it did not exist). */
export async function restoreTree(store: ObjectStore, tipTree: string, source: CommitInfo, path: string): Promise<string> {
  if (splitRepoPath(path).length === 0) return source.tree;
  return editTree(store, tipTree, new Map([[path, (await itemAt(store, source.tree, path)) ?? null]]));
}

/** `Revert "<subject>"` with git's body, plus trailers. */
export function revertMessage(target: CommitInfo, trailers: Readonly<Record<string, string>>, note?: string): string {
  const lines = [`Revert "${target.subject}"`, '', `This reverts commit ${target.oid}.`];
  if (note !== undefined) lines.push('', note);
  const extra = Object.entries(trailers);
  if (extra.length > 0) lines.push('', ...extra.map(([k, v]) => `${k}: ${v}`));
  return lines.join('\n');
}

export function isAutoRevert(commit: CommitInfo): boolean {
  return trailer(commit.message, AUTO_REVERT_TRAILER) !== undefined;
}
