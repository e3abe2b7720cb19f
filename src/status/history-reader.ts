// Reads the versions of one stack's status file from the status branch, for
// `capstan history` and the dashboard. The branch is fetched (up to `limit`
// commits deep) into a scratch repository the caller owns and removes, so
// a daemon's own status cache is never touched; a local-path repository is
// read in place.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import type { Logger } from '../logging/logger.js';
import { itemAt, readCommitInfo } from '../source/commit.js';
import type { GitCredentials } from '../source/credentials.js';
import { BranchWriter } from '../source/push.js';
import { syncFs as fs } from '../source/sync-fs.js';
import type { StatusVersion } from './history.js';
import { parseStackStatus, stackFile } from './render.js';

export interface HistoryReadOptions {
  repo: string;
  /** The status branch. */
  branch: string;
  credentials: GitCredentials | undefined;
  logger: Logger;
  /** Status commits to look back through (the whole branch's, not only this stack's). */
  limit: number;
}

/** Versions of `status/<stack>.yaml`, oldest first; empty when the branch or the file does not exist. */
export async function readStatusVersions(stack: string, opts: HistoryReadOptions): Promise<StatusVersion[]> {
  const scratch = await mkdtemp(join(tmpdir(), 'capstan-history-'));
  try {
    const writer = await BranchWriter.open({ repo: opts.repo, branch: opts.branch, workGitdir: join(scratch, 'status.git'), credentials: opts.credentials, depth: opts.limit, logger: opts.logger });
    const tip = await writer.tip();
    if (tip === undefined) return [];
    const store = writer.store;
    const commits = await git.log({ fs, gitdir: store.gitdir, cache: store.cache, ref: tip, depth: opts.limit });
    const path = stackFile(stack);
    const out: StatusVersion[] = [];
    let previous: string | undefined;
    // git.log lists newest first; walk oldest first and keep each commit that changed the file.
    const blobs = await Promise.all(commits.map(async (c) => (await itemAt(store, (await readCommitInfo(store, c.oid)).tree, path))?.oid));
    for (let i = commits.length - 1; i >= 0; i--) {
      const blob = blobs[i];
      const commit = commits[i];
      if (blob === undefined || commit === undefined || blob === previous) {
        previous = blob;
        continue;
      }
      previous = blob;
      const { blob: bytes } = await git.readBlob({ fs, gitdir: store.gitdir, cache: store.cache, oid: blob });
      const status = parseStackStatus(Buffer.from(bytes).toString('utf8'));
      if (status !== undefined) out.push({ commit: commit.oid, timeMs: commit.commit.committer.timestamp * 1000, status });
    }
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
