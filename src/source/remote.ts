// An http(s) remote mirrored into a bare cache repository under the data dir.
// resolve() asks the server for its refs (one request) and fetches only when
// the wanted commit is not in the cache yet, shallow by default; reads then
// come from the cache's object store. Errors leave as GitAuth/Fetch/RefNotFound.

import { syncFs as fs } from './sync-fs.js';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git, { type HttpClient } from 'isomorphic-git';
import { CapstanError, GitFetchError, GitRefNotFoundError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { GitCredentials } from './credentials.js';
import { ALL_HISTORY, errorText, GitRemote, networkReason } from './git-remote.js';
import type { GitSource } from './git-source.js';
import { readCommitInfo } from './commit.js';
import { acquireLock, type FileLock } from './lock.js';
import { expandLocal, gitErrorCode, hasObject, peelToCommit, SHA_LIKE } from './objects.js';
import { listTreeAt, materializeAt, readBlob, readFilesAt, type ObjectStore } from './tree.js';
import type { RepoTree } from '../manifests/repo-tree.js';

/** A lock untouched this long belongs to a dead process (holders refresh it). */
const LOCK_STALE_MS = 60_000;
/**
 * How long a resolve waits for another process's fetch into the shared cache.
 * A fetch is usually well under a second; past this (say, the daemon's first
 * clone of a big repository) a one-shot command fetches into its own scratch
 * clone instead, so it neither blocks on the daemon nor writes into its cache.
 */
const LOCK_WAIT_MS = 1_500;

const FULL_SHA = /^[0-9a-f]{40}$/;

type RemoteRef = { oid: string };

export class RemoteSource implements GitSource {
  readonly display: string;
  private readonly url: string;
  private readonly branch: string;
  private readonly remote: GitRemote;
  private readonly logger: Logger;
  private readonly gitRoot: string;
  private readonly cacheDir: string;
  private readonly lockPath: string;
  private readonly checkoutsDir: string;
  private readonly http: HttpClient;
  /** isomorphic-git's pack index cache; dropped when a cache repo is wiped. */
  private objectCache: object = {};
  /** Git dirs checked (exist, right URL) by this process. */
  private readonly verified = new Set<string>();
  private scratchDir: string | undefined;
  /** Where the last resolve fetched: reads look there first. */
  private active: string;
  /** resolve() calls of one source run one at a time: a fetch is not re-entrant. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: { url: string; branch: string; dataDir: string; credentials: GitCredentials | undefined; logger: Logger }) {
    this.remote = new GitRemote(opts.url, opts.credentials);
    this.url = this.remote.url;
    this.display = this.remote.url;
    this.branch = opts.branch;
    this.logger = opts.logger;
    this.gitRoot = join(opts.dataDir, 'git');
    const key = createHash('sha256').update(this.url).digest('hex').slice(0, 12);
    this.cacheDir = join(this.gitRoot, key);
    // Beside the cache, not in it: wiping a corrupt cache must not drop the lock.
    this.lockPath = `${this.cacheDir}.lock`;
    this.checkoutsDir = join(opts.dataDir, 'checkouts');
    this.active = this.cacheDir;
    this.http = this.remote.http;
  }

  resolve(ref?: string): Promise<string> {
    const run = this.queue.then(() => this.resolveLocked(ref));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async readFiles(revision: string, dir: string): Promise<Map<string, string>> {
    return this.read(revision, (store) => readFilesAt(store, revision, dir, this.logger));
  }

  async materialize(revision: string): Promise<string> {
    return this.read(revision, (store) => materializeAt(store, revision, this.checkoutsDir, this.logger));
  }

  async readBlob(revision: string, id: string): Promise<Uint8Array> {
    return this.read(revision, (store) => readBlob(store, id));
  }

  async listTree(revision: string): Promise<RepoTree> {
    return this.read(revision, (store) => listTreeAt(store, revision));
  }

  async commitSubject(revision: string): Promise<string> {
    return this.read(revision, async (store) => (await readCommitInfo(store, revision)).subject);
  }

  /**
   * Try each store this source has fetched into; a commit not fetched yet is fetched once.
   * Reads take no lock: objects are only ever added, a pack becomes visible with its
   * index, which is written after it, and every file is written by rename (sync-fs).
   */
  private async read<T>(revision: string, fn: (store: ObjectStore) => Promise<T>): Promise<T> {
    const dirs = [this.active, ...[this.cacheDir, this.scratchGitdir()].filter((d): d is string => d !== undefined && d !== this.active)];
    for (const gitdir of dirs) {
      if (!(await exists(join(gitdir, 'HEAD')))) continue;
      try {
        return await fn(this.store(gitdir));
      } catch (err) {
        if (!(err instanceof GitRefNotFoundError)) throw err;
      }
    }
    // Not here yet (e.g. a sha from before a restart): fetch it, then read where it landed.
    if (!FULL_SHA.test(revision)) throw new GitRefNotFoundError(this.display, revision);
    await this.resolve(revision);
    return fn(this.store(this.active));
  }

  private store(gitdir: string): ObjectStore {
    return { gitdir, cache: this.objectCache, display: this.display };
  }

  private scratchGitdir(): string | undefined {
    return this.scratchDir === undefined ? undefined : join(this.scratchDir, 'repo.git');
  }

  private async resolveLocked(ref: string | undefined): Promise<string> {
    let lock: FileLock | undefined;
    try {
      await mkdir(this.gitRoot, { recursive: true });
      lock = await acquireLock(this.lockPath, { staleMs: LOCK_STALE_MS, waitMs: LOCK_WAIT_MS });
    } catch (err) {
      throw new GitFetchError(this.display, `cannot write the cache in ${this.gitRoot} (${gitErrorCode(err) ?? errorText(err)})`, err);
    }
    if (lock !== undefined) {
      try {
        return await this.resolveIn(this.cacheDir, ref);
      } finally {
        await lock.release();
      }
    }
    return this.resolveIn(await this.scratch(), ref);
  }

  private async scratch(): Promise<string> {
    if (this.scratchDir === undefined) {
      const dir = await mkdtemp(join(tmpdir(), 'capstan-git-'));
      this.scratchDir = dir;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      this.logger.info({ repo: this.display, scratch: dir }, 'git cache is busy (another Capstan is fetching); using a scratch clone');
    }
    return join(this.scratchDir, 'repo.git');
  }

  private async resolveIn(gitdir: string, ref: string | undefined): Promise<string> {
    this.active = gitdir;
    const refs = await this.listRemoteRefs();
    try {
      await this.ensureRepo(gitdir);
      return await this.resolveWith(this.store(gitdir), refs, ref);
    } catch (err) {
      if (!looksLikeCacheDamage(err)) throw this.remote.mapError(err, 'fetch');
      this.logger.warn({ repo: this.display, cache: gitdir, err: this.remote.scrub(errorText(err)) }, 'git cache looks damaged; re-cloning');
      await this.reset(gitdir);
      try {
        return await this.resolveWith(this.store(gitdir), refs, ref);
      } catch (again) {
        throw this.remote.mapError(again, 'fetch');
      }
    }
  }

  private async resolveWith(store: ObjectStore, refs: Map<string, RemoteRef>, ref: string | undefined): Promise<string> {
    if (ref === undefined) {
      const fullref = `refs/heads/${this.branch}`;
      const tip = refs.get(fullref);
      if (tip === undefined) throw new GitRefNotFoundError(this.display, this.branch);
      return this.ensureFetched(store, fullref, tip.oid, this.branch);
    }
    const shaLike = SHA_LIKE.test(ref);
    if (shaLike) {
      const oid = await expandLocal(store, ref);
      if (oid !== undefined) return peelToCommit(store, oid, ref);
    }
    const named = lookupRef(refs, ref);
    if (named !== undefined) return this.ensureFetched(store, named.fullref, named.oid, ref);
    if (shaLike) {
      const prefix = ref.toLowerCase();
      const tip = [...refs].find(([name, { oid }]) => oid.startsWith(prefix) && !name.endsWith('^{}'));
      if (tip !== undefined) return this.ensureFetched(store, tip[0], tip[1].oid, ref);
      // Servers need not serve an arbitrary sha (protocol v1 cannot ask for one), so
      // fetch the branch's whole history, as `git fetch --unshallow` does, and look again.
      // Only a deploy of an older commit pays this, once; shas on other branches stay unknown.
      this.logger.info({ repo: this.display, ref }, 'sha not in the shallow cache; fetching the branch history');
      await this.fetch(store, `refs/heads/${this.branch}`, ALL_HISTORY);
      const oid = await expandLocal(store, ref);
      if (oid !== undefined) return peelToCommit(store, oid, ref);
    }
    throw new GitRefNotFoundError(this.display, ref);
  }

  /** A no-op when the object is cached already; that is the common poll, kept to one HTTP request. */
  private async ensureFetched(store: ObjectStore, fullref: string, oid: string, label: string): Promise<string> {
    if (!(await hasObject(store, oid))) await this.fetch(store, fullref, 1);
    return peelToCommit(store, oid, label);
  }

  private async fetch(store: ObjectStore, remoteRef: string, depth: number): Promise<void> {
    const started = performance.now();
    await git.fetch({
      fs,
      http: this.http,
      gitdir: store.gitdir,
      cache: store.cache,
      url: this.url,
      // The tracking ref of the branch is the best "have" to offer the server.
      ref: `refs/remotes/origin/${this.branch}`,
      remoteRef,
      singleBranch: true,
      tags: false,
      depth,
      headers: {},
      ...this.remote.auth(),
    });
    this.logger.debug({ repo: this.display, ref: remoteRef, depth, ms: Math.round(performance.now() - started) }, 'fetched');
  }

  private async listRemoteRefs(): Promise<Map<string, RemoteRef>> {
    let info;
    try {
      info = await git.getRemoteInfo2({ http: this.http, url: this.url, protocolVersion: 1, headers: {}, ...this.remote.auth() });
    } catch (err) {
      throw this.remote.mapError(err, 'fetch');
    }
    const refs = new Map<string, RemoteRef>();
    for (const entry of info.refs ?? []) refs.set(entry.ref, { oid: entry.oid });
    return refs;
  }

  /** Make sure `gitdir` is a bare repo caching this URL; anything else there is wiped. */
  private async ensureRepo(gitdir: string): Promise<void> {
    const hasHead = await exists(join(gitdir, 'HEAD'));
    if (hasHead && this.verified.has(gitdir)) return;
    if (hasHead) {
      let cachedUrl: unknown;
      try {
        cachedUrl = await git.getConfig({ fs, gitdir, path: 'remote.origin.url' });
      } catch {
        cachedUrl = undefined;
      }
      if (cachedUrl === this.url) {
        this.verified.add(gitdir);
        return;
      }
      this.logger.warn({ repo: this.display, cache: gitdir }, 'git cache holds another repository or is damaged; re-cloning');
    }
    await this.reset(gitdir);
  }

  private async reset(gitdir: string): Promise<void> {
    await rm(gitdir, { recursive: true, force: true });
    this.objectCache = {};
    await git.init({ fs, gitdir, bare: true, defaultBranch: this.branch });
    await git.setConfig({ fs, gitdir, path: 'remote.origin.url', value: this.url });
    await git.setConfig({ fs, gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
    this.verified.add(gitdir);
  }
}

/** Short names as git expands them: exact, refs/<name>, then tags before branches. */
function lookupRef(refs: Map<string, RemoteRef>, name: string): { fullref: string; oid: string } | undefined {
  for (const fullref of [name, `refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`]) {
    const found = refs.get(fullref);
    if (found !== undefined) return { fullref, oid: found.oid };
  }
  return undefined;
}

/** Failures that no server caused: a damaged cache, which re-cloning heals. */
function looksLikeCacheDamage(err: unknown): boolean {
  if (err instanceof CapstanError) return false;
  if (networkReason(err) !== undefined) return false;
  const code = gitErrorCode(err);
  // A truncated answer (a server that stalled or hung up mid-response) is the server's doing, not the cache's.
  return code === undefined || !['HttpError', 'UserCanceledError', 'SmartHttpError', 'RemoteCapabilityError', 'EmptyServerResponseError', 'EACCES', 'ENOSPC', 'EROFS'].includes(code);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
