// Real Git for integration tests: a smart-HTTP server (scripts/git-server.mjs)
// over a temp dir of bare repos, and work trees driven by the git CLI to write,
// commit, tag and push, as a user would. Everything lives in temp dirs removed on close().

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createBareRepo, startGitServer } from '../../scripts/git-server.mjs';

const execFileP = promisify(execFile);

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Capstan Test',
  GIT_AUTHOR_EMAIL: 'test@localhost',
  GIT_COMMITTER_NAME: 'Capstan Test',
  GIT_COMMITTER_EMAIL: 'test@localhost',
  GIT_TERMINAL_PROMPT: '0',
  // The host's ~/.gitconfig (signing, hooks, default branch) must not change test results.
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
};

export async function runGit(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('git', args, { cwd, env: { ...process.env, ...GIT_ENV } });
  return stdout.trim();
}

export interface TestGitServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Directory holding the bare repos. */
  root: string;
  /** A new bare repo `<name>.git` on the server with a cloned work tree on `branch` (default main). */
  createRepo(name: string, opts?: { branch?: string }): Promise<TestRepo>;
  close(): Promise<void>;
}

export async function startTestGitServer(opts: Pick<Parameters<typeof startGitServer>[0], 'auth' | 'beforeRequest'> = {}): Promise<TestGitServer> {
  const base = await mkdtemp(join(tmpdir(), 'capstan-test-git-'));
  const root = join(base, 'repos');
  await mkdir(root);
  // The same auth object: a test that changes its password revokes the credentials clients hold.
  const server = await startGitServer({ root, ...(opts.auth === undefined ? {} : { auth: opts.auth }), ...(opts.beforeRequest === undefined ? {} : { beforeRequest: opts.beforeRequest }) });
  let count = 0;
  return {
    url: server.url,
    root,
    async createRepo(name, repoOpts = {}) {
      const branch = repoOpts.branch ?? 'main';
      const bareDir = await createBareRepo(root, name, { branch });
      const workDir = join(base, `work-${++count}-${name}`);
      const url = `${server.url}/${name}.git`;
      // The work tree pushes over HTTP (exercising the server), so it needs the credentials in its remote URL.
      const pushUrl = opts.auth === undefined ? url : withUserinfo(url, opts.auth);
      await runGit(base, 'init', '--quiet', `--initial-branch=${branch}`, workDir);
      await runGit(workDir, 'remote', 'add', 'origin', pushUrl);
      return new TestRepo({ url, bareDir, workDir, branch });
    },
    async close() {
      await server.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

function withUserinfo(url: string, auth: { username: string; password: string }): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(auth.username);
  parsed.password = encodeURIComponent(auth.password);
  return parsed.toString();
}

export class TestRepo {
  /** Clone URL, without credentials. */
  readonly url: string;
  /** The bare repository the server serves (also usable as a local-path repo). */
  readonly bareDir: string;
  /** A work tree with `origin` pointing at the server. */
  readonly workDir: string;
  readonly branch: string;

  constructor(opts: { url: string; bareDir: string; workDir: string; branch: string }) {
    this.url = opts.url;
    this.bareDir = opts.bareDir;
    this.workDir = opts.workDir;
    this.branch = opts.branch;
  }

  git(...args: string[]): Promise<string> {
    return runGit(this.workDir, ...args);
  }

  async write(path: string, content: string): Promise<void> {
    const file = join(this.workDir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }

  async remove(path: string): Promise<void> {
    await rm(join(this.workDir, path), { recursive: true, force: true });
  }

  /** Stage everything and commit; returns the new commit's full sha. */
  async commit(message: string): Promise<string> {
    await this.git('add', '--all');
    await this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  /** Tag HEAD (annotated when a message is given); returns the tagged commit's sha. */
  async tag(name: string, message?: string): Promise<string> {
    await (message === undefined ? this.git('tag', name) : this.git('tag', '-a', name, '-m', message));
    return this.git('rev-parse', 'HEAD');
  }

  /** Push the branch and all tags to the server. */
  async push(): Promise<void> {
    await this.git('push', '--quiet', '--tags', 'origin', `HEAD:refs/heads/${this.branch}`);
  }

  /** write + commit + push in one step, for the common case. */
  async commitFiles(files: Record<string, string>, message = 'update'): Promise<string> {
    for (const [path, content] of Object.entries(files)) await this.write(path, content);
    const sha = await this.commit(message);
    await this.push();
    return sha;
  }
}
