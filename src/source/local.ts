// A repository on this machine (bare, or a work tree with .git) read in place:
// refs and objects come straight from its store, so a commit there is visible
// at the next resolve() without any fetch or copy.

import { syncFs as fs } from './sync-fs.js';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import git from 'isomorphic-git';
import { GitFetchError, GitRefNotFoundError } from '../errors.js';
import { readCommitInfo } from './commit.js';
import type { Logger } from '../logging/logger.js';
import type { GitSource } from './git-source.js';
import { expandLocal, gitErrorCode, peelToCommit, SHA_LIKE } from './objects.js';
import { listTreeAt, materializeAt, readFilesAt, type ObjectStore } from './tree.js';
import type { RepoTree } from '../manifests/repo-tree.js';

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The git dir of `path`: `path/.git`, the target of a `.git` file (submodules), or `path` itself when bare. */
export async function findGitdir(path: string): Promise<string | undefined> {
  const dotGit = join(path, '.git');
  if (await isDir(dotGit)) return dotGit;
  if (await isFile(dotGit)) {
    const match = /^gitdir:\s*(.+?)\s*$/m.exec(await readFile(dotGit, 'utf8'));
    if (match?.[1] !== undefined) return resolvePath(path, match[1]);
  }
  if ((await isFile(join(path, 'HEAD'))) && (await isDir(join(path, 'objects')))) return path;
  return undefined;
}

export class LocalSource implements GitSource {
  readonly display: string;
  private readonly branch: string;
  private readonly checkoutsDir: string;
  private readonly logger: Logger;
  private readonly cache: object = {};
  private gitdir: Promise<string> | undefined;

  constructor(opts: { path: string; branch: string; dataDir: string; logger: Logger }) {
    this.display = opts.path;
    this.branch = opts.branch;
    this.checkoutsDir = join(opts.dataDir, 'checkouts');
    this.logger = opts.logger;
  }

  private async store(): Promise<ObjectStore> {
    this.gitdir ??= findGitdir(this.display).then((found) => {
      if (found !== undefined) return found;
      // Forget the failure: the path may become a repository later (e.g. `git init` after start).
      this.gitdir = undefined;
      const sshLike = /^[\w.-]+@[\w.-]+:/.test(this.display) || /^(ssh|git):\/\//.test(this.display);
      throw new GitFetchError(this.display, sshLike ? 'only http(s) URLs and local paths are supported' : 'not a git repository');
    });
    return { gitdir: await this.gitdir, cache: this.cache, display: this.display };
  }

  async resolve(ref?: string): Promise<string> {
    const store = await this.store();
    if (ref === undefined) return this.resolveName(store, `refs/heads/${this.branch}`, this.branch);
    if (SHA_LIKE.test(ref)) {
      const oid = await expandLocal(store, ref);
      if (oid !== undefined) return peelToCommit(store, oid, ref);
    }
    return this.resolveName(store, ref, ref);
  }

  private async resolveName(store: ObjectStore, ref: string, label: string): Promise<string> {
    let oid: string;
    try {
      // isomorphic-git expands a short name as git does: refs/tags/ before refs/heads/.
      oid = await git.resolveRef({ fs, gitdir: store.gitdir, ref });
    } catch (err) {
      if (gitErrorCode(err) === 'NotFoundError') throw new GitRefNotFoundError(this.display, label);
      throw err;
    }
    return peelToCommit(store, oid, label);
  }

  async readFiles(revision: string, dir: string): Promise<Map<string, string>> {
    return readFilesAt(await this.store(), revision, dir, this.logger);
  }

  async materialize(revision: string): Promise<string> {
    return materializeAt(await this.store(), revision, this.checkoutsDir, this.logger);
  }

  async listTree(revision: string): Promise<RepoTree> {
    return listTreeAt(await this.store(), revision);
  }

  async commitSubject(revision: string): Promise<string> {
    return (await readCommitInfo(await this.store(), revision)).subject;
  }
}
