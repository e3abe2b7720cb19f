// The Git source of desired state (DESIGN §4 step 1): resolve a branch, tag or
// sha of an http(s) remote or a local repository to a commit, and read that
// commit's files from the object store. Everything else in Capstan sees Git
// only through this interface.

import { fileURLToPath } from 'node:url';
import { resolve as resolvePath } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { RepoTree } from '../manifests/repo-tree.js';
import type { GitCredentials } from './credentials.js';
import { LocalSource } from './local.js';
import { RemoteSource } from './remote.js';
import { isRemoteRepo } from './repo-identity.js';

export type { GitCredentials } from './credentials.js';

export interface SourceOptions {
  /** http(s) URL or a local repository path (bare or with a work tree). */
  repo: string;
  branch: string;
  /** Capstan's data dir; the cache goes under <dataDir>/git/<short hash of repo url>. */
  dataDir: string;
  credentials: GitCredentials | undefined;
  logger: Logger;
}

export interface GitSource {
  /** Human-readable repo for messages (URL without userinfo). */
  readonly display: string;
  /** Fetch (remote) or read (local path) and return the full 40-hex sha of `ref` (default: the branch). ref may be a branch, a tag or a (full or abbreviated) sha. Throws GitAuthError / GitFetchError / GitRefNotFoundError. */
  resolve(ref?: string): Promise<string>;
  /** Every file under `dir` (repo-relative POSIX, '' or '.' = whole repo) at `revision`, as Map<repo-relative path, utf8 content>. Reads blobs from the object store; no checkout. Skips submodules/symlinks (note it). */
  readFiles(revision: string, dir: string): Promise<Map<string, string>>;
  /** Every directory and plain file at `revision` with its Git id (trees only; no blob is read). */
  listTree(revision: string): Promise<RepoTree>;
  /** The bytes of blob `id` of `revision`'s repository, from the object store (never from a checkout, which a container may have written to). */
  readBlob(revision: string, id: string): Promise<Uint8Array>;
  /** Write the whole tree at revision to <dataDir>/checkouts/<sha>/ (once; reuse if present; write into a temp dir and rename for crash safety) and return that absolute path. For relative bind mounts. */
  materialize(revision: string): Promise<string>;
  /** The first line of the commit's message, for people (the dashboard links it). */
  commitSubject(revision: string): Promise<string>;
}

export function openSource(opts: SourceOptions): GitSource {
  const dataDir = resolvePath(opts.dataDir);
  if (isRemoteRepo(opts.repo)) {
    return new RemoteSource({ url: opts.repo, branch: opts.branch, dataDir, credentials: opts.credentials, logger: opts.logger });
  }
  const path = /^file:\/\//i.test(opts.repo) ? fileURLToPath(opts.repo) : resolvePath(opts.repo);
  return new LocalSource({ path, branch: opts.branch, dataDir, logger: opts.logger });
}
