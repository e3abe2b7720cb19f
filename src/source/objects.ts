// Ref and object lookups shared by the remote cache and local repositories:
// does the store hold an object, which commit does a (tag) object point at,
// and which full sha does an abbreviated one stand for.

import { syncFs as fs } from './sync-fs.js';
import git from 'isomorphic-git';
import { GitRefNotFoundError } from '../errors.js';
import type { ObjectStore } from './tree.js';

/** A revision that can only be a sha (prefix): 4 to 40 hex digits, as git accepts. */
export const SHA_LIKE = /^[0-9a-fA-F]{4,40}$/;

export function gitErrorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export async function hasObject(store: ObjectStore, oid: string): Promise<boolean> {
  try {
    await git.readObject({ fs, gitdir: store.gitdir, oid, format: 'content', cache: store.cache });
    return true;
  } catch (err) {
    if (gitErrorCode(err) === 'NotFoundError') return false;
    throw err;
  }
}

/** The full sha for a sha or sha prefix present in the store, else undefined. */
export async function expandLocal(store: ObjectStore, shaLike: string): Promise<string | undefined> {
  const prefix = shaLike.toLowerCase();
  if (prefix.length === 40) return (await hasObject(store, prefix)) ? prefix : undefined;
  try {
    return await git.expandOid({ fs, gitdir: store.gitdir, oid: prefix, cache: store.cache });
  } catch (err) {
    const code = gitErrorCode(err);
    if (code === 'NotFoundError') return undefined;
    // Git refuses an ambiguous prefix too; the user has to give more digits.
    if (code === 'AmbiguousError') throw new GitRefNotFoundError(store.display, `${shaLike} (ambiguous: give more digits)`);
    throw err;
  }
}

/** Follow annotated tags down to the commit; `label` names the ref in errors. */
export async function peelToCommit(store: ObjectStore, oid: string, label: string): Promise<string> {
  let current = oid;
  for (let depth = 0; depth < 10; depth++) {
    let object;
    try {
      object = await git.readObject({ fs, gitdir: store.gitdir, oid: current, cache: store.cache });
    } catch (err) {
      if (gitErrorCode(err) === 'NotFoundError') throw new GitRefNotFoundError(store.display, label);
      throw err;
    }
    if (object.type === 'commit') return current;
    if (object.type !== 'tag' || typeof object.object !== 'object' || !('object' in object.object)) break;
    current = object.object.object;
  }
  // A tag of a tree or blob names no commit to deploy.
  throw new GitRefNotFoundError(store.display, label);
}
