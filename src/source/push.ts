// Adds one commit to a branch and publishes it, for status, rollback and
// auto-revert. Optimistic: read the tip, build the commit on it, push; when
// another writer got there first (non-fast-forward), fetch the new tip, build
// again on top of it and retry with backoff, a bounded number of times.
// Never force-pushes. A local-path repository is written in place.

import { doublingDelayMs } from '../backoff.js';
import { syncFs as fs } from './sync-fs.js';
import { mkdir, stat } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import git from 'isomorphic-git';
import { CapstanError, GitPushError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Author } from './author.js';
import { writeCommitObject } from './commit.js';
import type { GitCredentials } from './credentials.js';
import { isRemoteRepo } from './repo-identity.js';
import { findGitdir } from './local.js';
import { gitErrorCode, hasObject } from './objects.js';
import { ALL_HISTORY, errorText, GitRemote, withoutUserinfo } from './git-remote.js';
import type { ObjectStore } from './tree.js';

/** Attempts before giving up on a contended branch; with the backoff below about 3 s in all. */
const MAX_ATTEMPTS = 6;
const BACKOFF_MS = 100;
/** What `git fetch --unshallow` sends: deepen to the whole history. */
export { ALL_HISTORY };

export interface BranchWriterOptions {
  /** http(s) URL or local repository path, as --repo. */
  repo: string;
  branch: string;
  /** For an http(s) repo: the bare repository fetched into and pushed from (created when missing). Unused for a local path. */
  workGitdir: string;
  credentials: GitCredentials | undefined;
  /** Commits of history to fetch: 1 is enough to add a commit; rollback needs more. */
  depth: number;
  logger: Logger;
}

/**
 * Builds the commit to add on top of `tip` (undefined: the branch does not
 * exist yet); undefined: nothing to commit. `parent` starts a new branch
 * from another commit (the default is an orphan, or `tip`).
 */
export type BuildCommit = (tip: string | undefined) => Promise<{ tree: string; message: string; parent?: string } | undefined>;

export class BranchWriter {
  readonly display: string;
  private readonly remote: GitRemote | undefined;
  private readonly cache: object = {};

  private constructor(
    private readonly opts: BranchWriterOptions,
    private readonly gitdir: string,
  ) {
    if (isRemoteRepo(opts.repo)) {
      this.remote = new GitRemote(opts.repo, opts.credentials);
      this.display = this.remote.url;
    } else {
      this.remote = undefined;
      this.display = opts.repo;
    }
  }

  static async open(opts: BranchWriterOptions): Promise<BranchWriter> {
    if (isRemoteRepo(opts.repo)) {
      const gitdir = resolvePath(opts.workGitdir);
      if (!(await stat(`${gitdir}/HEAD`).then(() => true, () => false))) {
        await mkdir(gitdir, { recursive: true });
        await git.init({ fs, gitdir, bare: true, defaultBranch: opts.branch });
        // isomorphic-git's fetch wants a remote with a refspec to record what it fetched.
        await git.setConfig({ fs, gitdir, path: 'remote.origin.url', value: withoutUserinfo(opts.repo).url });
        await git.setConfig({ fs, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
      }
      return new BranchWriter(opts, gitdir);
    }
    const path = /^file:\/\//i.test(opts.repo) ? fileURLToPath(opts.repo) : resolvePath(opts.repo);
    const gitdir = await findGitdir(path);
    if (gitdir === undefined) throw new GitPushError(opts.repo, 'not a git repository');
    return new BranchWriter(opts, gitdir);
  }

  get store(): ObjectStore {
    return { gitdir: this.gitdir, cache: this.cache, display: this.display };
  }

  /** The branch's newest commit (fetched into the work repository first), or undefined when the branch does not exist. */
  async tip(): Promise<string | undefined> {
    if (this.remote === undefined) {
      try {
        return await git.resolveRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${this.opts.branch}` });
      } catch (err) {
        if (gitErrorCode(err) === 'NotFoundError') return undefined;
        throw err;
      }
    }
    const { url, http } = this.remote;
    const fullref = `refs/heads/${this.opts.branch}`;
    try {
      const info = await git.getRemoteInfo2({ http, url, protocolVersion: 1, headers: {}, ...this.auth() });
      const oid = info.refs?.find((r) => r.ref === fullref)?.oid;
      if (oid === undefined) return undefined;
      if (!(await hasObject(this.store, oid))) {
        await git.fetch({ fs, http, gitdir: this.gitdir, cache: this.cache, url, ref: `refs/remotes/origin/${this.opts.branch}`, remoteRef: fullref, singleBranch: true, tags: false, depth: this.opts.depth, headers: {}, ...this.auth() });
      }
      return oid;
    } catch (err) {
      throw this.mapError(err);
    }
  }

  /**
   * Add the commit `build` makes on top of the branch and publish it. Returns
   * the new commit's sha, or undefined when `build` found nothing to commit.
   */
  async commit(build: BuildCommit, author: Author, now: () => number): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      const tip = await this.tip();
      const next = await build(tip);
      if (next === undefined) return undefined;
      const oid = await writeCommitObject(this.store, { tree: next.tree, parent: tip ?? next.parent, message: next.message, author, timestampMs: now() });
      if (await this.publish(tip, oid)) return oid;
      if (attempt >= MAX_ATTEMPTS) throw new GitPushError(this.display, `${this.opts.branch} kept moving; gave up after ${MAX_ATTEMPTS} attempts`);
      const wait = doublingDelayMs(attempt, BACKOFF_MS, Number.MAX_SAFE_INTEGER) * (0.5 + Math.random());
      this.opts.logger.info({ repo: this.display, branch: this.opts.branch, attempt, waitMs: Math.round(wait) }, 'branch moved under us; rebuilding the commit on the new tip');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** true: the branch now points at `oid`; false: it had moved on from `expected` (retry). */
  private async publish(expected: string | undefined, oid: string): Promise<boolean> {
    const ref = `refs/heads/${this.opts.branch}`;
    if (this.remote === undefined) return this.publishLocal(ref, expected, oid);
    const { url, http } = this.remote;
    await git.writeRef({ fs, gitdir: this.gitdir, ref, value: oid, force: true });
    try {
      await git.push({ fs, http, gitdir: this.gitdir, cache: this.cache, url, ref, remoteRef: ref, headers: {}, ...this.auth() });
      return true;
    } catch (err) {
      // Rejected by our own fast-forward check, or by the server when the ref moved between its advert and our
      // update: git's receive-pack then answers `ng <ref> failed to update ref` (its compare-and-swap failed).
      const code = gitErrorCode(err);
      if (code === 'PushRejectedError' || (code === 'GitPushError' && /fetch first|non-fast-forward|stale|lock|failed to update ref/i.test(errorText(err)))) return false;
      throw this.mapError(err);
    }
  }

  private async publishLocal(ref: string, expected: string | undefined, oid: string): Promise<boolean> {
    const bare = await git.getConfig({ fs, gitdir: this.gitdir, path: 'core.bare' });
    const current = await git.currentBranch({ fs, gitdir: this.gitdir, fullname: true }).catch(() => undefined);
    if (bare !== true && current === ref) {
      // As git's receive.denyCurrentBranch: moving a checked-out branch would leave its work tree stale.
      throw new GitPushError(this.display, `${this.opts.branch} is checked out in that repository's work tree`);
    }
    const now = await this.tip();
    if (now !== expected) return false;
    await git.writeRef({ fs, gitdir: this.gitdir, ref, value: oid, force: true });
    return true;
  }

  private auth(): ReturnType<GitRemote['auth']> | Record<string, never> {
    return this.remote?.auth() ?? {};
  }

  private mapError(err: unknown): CapstanError {
    if (err instanceof CapstanError) return err;
    if (this.remote !== undefined) return this.remote.mapError(err, 'push');
    return new GitPushError(this.display, errorText(err));
  }
}
