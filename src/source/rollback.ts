// Pushing the commits that roll the manifests branch back: a revert of the
// newest change under the stacks path, a restore of that path as of a given
// commit (`capstan rollback [--to SHA]`), and Capstan's own auto-revert. Each
// works in a scratch repository of its own, so a running daemon's cache is
// never touched, and fetches the history it needs (whole branch for a
// rollback, two commits for an auto-revert).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RollbackError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Author } from './author.js';
import { readCommitInfo } from './commit.js';
import type { GitCredentials } from './credentials.js';
import { expandLocal, peelToCommit } from './objects.js';
import { ALL_HISTORY, BranchWriter } from './push.js';
import { AUTO_REVERT_TRAILER, isAutoRevert, newestChangeUnder, restoreTree, revertMessage, revertTree } from './revert.js';

export interface RollbackOptions {
  repo: string;
  branch: string;
  /** The stacks directory (--path). */
  path: string;
  credentials: GitCredentials | undefined;
  author: Author;
  logger: Logger;
  now: () => number;
}

export interface PushedCommit {
  oid: string;
  subject: string;
}

async function withScratch<T>(opts: RollbackOptions, depth: number, fn: (writer: BranchWriter) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-rollback-'));
  try {
    const writer = await BranchWriter.open({ repo: opts.repo, branch: opts.branch, workGitdir: join(dir, 'repo.git'), credentials: opts.credentials, depth, logger: opts.logger });
    return await fn(writer);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `capstan rollback`: revert the newest commit that changed the stacks, or (with `to`) restore them as of that commit. */
export async function pushRollback(opts: RollbackOptions & { to: string | undefined }): Promise<PushedCommit> {
  return withScratch(opts, ALL_HISTORY, async (writer) => {
    let subject = '';
    const oid = await writer.commit(
      async (tip) => {
        if (tip === undefined) throw new RollbackError(`branch ${opts.branch} does not exist in ${writer.display}`, 'check --repo and --branch');
        const head = await readCommitInfo(writer.store, tip);
        if (opts.to === undefined) {
          const target = await newestChangeUnder(writer.store, tip, opts.path);
          const message = revertMessage(target, {});
          subject = message.split('\n')[0] ?? '';
          return { tree: await revertTree(writer.store, head.tree, target), message };
        }
        const full = await expandLocal(writer.store, opts.to);
        if (full === undefined) throw new RollbackError(`${opts.to} is not a commit of ${opts.branch}`, 'give a sha from `git log` of the branch');
        const source = await readCommitInfo(writer.store, await peelToCommit(writer.store, full, opts.to));
        const tree = await restoreTree(writer.store, head.tree, source, opts.path);
        if (tree === head.tree) throw new RollbackError(`${opts.path} at ${opts.branch} already equals ${source.oid.slice(0, 7)}`, 'nothing to roll back');
        subject = `Roll back ${opts.path} to ${source.oid.slice(0, 7)}`;
        return { tree, message: `${subject}\n\nRestores ${opts.path} as of ${source.oid} ("${source.subject}").` };
      },
      opts.author,
      opts.now,
    );
    if (oid === undefined) throw new RollbackError('nothing to roll back', 'the branch already has the content asked for');
    return { oid, subject };
  });
}

/**
 * Capstan's own revert of `revision` after its rollout failed. Nothing is
 * pushed (undefined) when the branch has moved on past `revision` (a newer
 * commit supersedes it anyway) or when `revision` is itself an auto-revert:
 * Capstan never reverts its own reverts, so it cannot loop.
 */
export async function pushAutoRevert(opts: RollbackOptions & { revision: string; reason: string; instance: string }): Promise<PushedCommit | undefined> {
  return withScratch(opts, 2, async (writer) => {
    let subject = '';
    const oid = await writer.commit(
      async (tip) => {
        if (tip !== opts.revision) return undefined;
        const target = await readCommitInfo(writer.store, tip);
        if (isAutoRevert(target)) return undefined;
        const message = revertMessage(target, { [AUTO_REVERT_TRAILER]: target.oid, 'Capstan-Instance': opts.instance }, opts.reason);
        subject = message.split('\n')[0] ?? '';
        return { tree: await revertTree(writer.store, target.tree, target), message };
      },
      opts.author,
      opts.now,
    );
    return oid === undefined ? undefined : { oid, subject };
  });
}
