// The Git source against a real smart-HTTP server (git http-backend) and real
// local repositories: resolving refs, reading and materializing trees, auth
// and network failures as typed errors.

import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitAuthError, GitFetchError, GitRefNotFoundError } from '../../src/errors.js';
import { pino } from 'pino';
import { silentLogger, type Logger } from '../../src/logging/logger.js';
import { openSource, type GitCredentials, type GitSource } from '../../src/source/git-source.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-source-test-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function source(repo: string, opts: { credentials?: GitCredentials; dataDir?: string; branch?: string; logger?: Logger } = {}): Promise<GitSource> {
  return openSource({
    repo,
    branch: opts.branch ?? 'main',
    dataDir: opts.dataDir ?? (await tempDir()),
    credentials: opts.credentials,
    logger: opts.logger ?? silentLogger(),
  });
}

/** A logger whose messages the test can read. */
function recordingLogger(): { logger: Logger; messages: string[] } {
  const messages: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('remote source (smart HTTP)', () => {
  let server: TestGitServer;
  let repo: TestRepo;
  let first: string;

  beforeAll(async () => {
    server = await startTestGitServer();
    repo = await server.createRepo('manifests');
    first = await repo.commitFiles(
      {
        'stacks/web.yaml': 'services:\n  web:\n    image: nginx:1.27\n',
        'stacks/shop/compose.yaml': 'services:\n  api:\n    image: shop/api:1\n',
        'stacks/shop/.env': 'TAG=1\n',
        'README.md': '# manifests\n',
        'config/nginx.conf': 'server {}\n',
      },
      'first',
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('resolves the branch to the pushed sha, and to the next one after a new push', async () => {
    const src = await source(repo.url);
    expect(await src.resolve()).toBe(first);
    expect(await src.resolve()).toBe(first);

    const second = await repo.commitFiles({ 'stacks/web.yaml': 'services:\n  web:\n    image: nginx:1.28\n' }, 'second');
    expect(second).not.toBe(first);
    expect(await src.resolve()).toBe(second);
    // The older commit stays readable from the cache after the branch moved on.
    expect((await src.readFiles(first, 'stacks')).get('stacks/web.yaml')).toContain('nginx:1.27');
    expect((await src.readFiles(second, 'stacks')).get('stacks/web.yaml')).toContain('nginx:1.28');
  });

  it('readFiles returns exactly the files under the directory, with their contents', async () => {
    const src = await source(repo.url);
    const sha = await src.resolve();
    const files = await src.readFiles(sha, 'stacks');
    expect([...files.keys()].sort()).toEqual(['stacks/shop/.env', 'stacks/shop/compose.yaml', 'stacks/web.yaml']);
    expect(files.get('stacks/shop/compose.yaml')).toBe('services:\n  api:\n    image: shop/api:1\n');
    expect(files.get('stacks/shop/.env')).toBe('TAG=1\n');

    expect([...(await src.readFiles(sha, './stacks/shop/')).keys()].sort()).toEqual(['stacks/shop/.env', 'stacks/shop/compose.yaml']);
    expect([...(await src.readFiles(sha, '')).keys()]).toContain('README.md');
    expect((await src.readFiles(sha, '.')).size).toBe(5);
    expect((await src.readFiles(sha, 'nope')).size).toBe(0);
  });

  it('resolves tags (light and annotated), sha prefixes and full shas; unknown refs are GitRefNotFoundError', async () => {
    const tagged = await repo.commitFiles({ 'stacks/web.yaml': 'services:\n  web:\n    image: nginx:1.29\n' }, 'release');
    await repo.tag('v1.0.0');
    await repo.tag('v1.0.0-annotated', 'release 1.0.0');
    await repo.push();
    const head = await repo.commitFiles({ 'stacks/extra.yaml': 'services: {}\n' }, 'after the tag');

    await repo.git('push', '--quiet', 'origin', `${tagged}:refs/heads/feature`);

    const src = await source(repo.url);
    expect(await src.resolve()).toBe(head);
    expect(await src.resolve('feature')).toBe(tagged);
    expect(await src.resolve('v1.0.0')).toBe(tagged);
    expect(await src.resolve('v1.0.0-annotated')).toBe(tagged);
    expect(await src.resolve('refs/tags/v1.0.0')).toBe(tagged);
    expect(await src.resolve(head.slice(0, 7))).toBe(head);
    expect(await src.resolve('main')).toBe(head);

    const missing = await caught(src.resolve('nope'));
    expect(missing).toBeInstanceOf(GitRefNotFoundError);
    expect((missing as Error).message).toContain(repo.url);
    expect(await caught(src.resolve('0000000'))).toBeInstanceOf(GitRefNotFoundError);
  });

  it('finds an older sha outside the shallow cache by fetching the history', async () => {
    // A fresh cache holds only the tip; `first` is several commits back.
    const src = await source(repo.url);
    const tip = await src.resolve();
    expect(tip).not.toBe(first);
    expect(await src.resolve(first.slice(0, 10))).toBe(first);
    expect(await src.resolve(first)).toBe(first);
    expect((await src.readFiles(first, 'stacks')).get('stacks/web.yaml')).toContain('nginx:1.27');
  });

  it('readFiles of a sha the cache has not seen fetches it', async () => {
    const src = await source(repo.url);
    const files = await src.readFiles(first, 'stacks');
    expect(files.get('stacks/web.yaml')).toContain('nginx:1.27');
  });

  it('materialize writes the whole tree once, under <dataDir>/checkouts/<sha>', async () => {
    const dataDir = await tempDir();
    const src = await source(repo.url, { dataDir });
    const sha = await src.resolve();
    const path = await src.materialize(sha);
    expect(path).toBe(join(dataDir, 'checkouts', sha));
    expect(await readFile(join(path, 'config/nginx.conf'), 'utf8')).toBe('server {}\n');
    expect(await readFile(join(path, 'stacks/shop/.env'), 'utf8')).toBe('TAG=1\n');

    // Present means complete: a second call reuses it rather than rewriting.
    await writeFile(join(path, 'marker'), 'x');
    expect(await src.materialize(sha)).toBe(path);
    expect(await readFile(join(path, 'marker'), 'utf8')).toBe('x');
  });

  it('a missing branch is GitRefNotFoundError', async () => {
    const src = await source(repo.url, { branch: 'production' });
    const err = await caught(src.resolve());
    expect(err).toBeInstanceOf(GitRefNotFoundError);
    expect((err as Error).message).toContain('production');
  });

  it('a repository that does not exist on the server is GitFetchError', async () => {
    const src = await source(`${server.url}/missing.git`);
    const err = await caught(src.resolve());
    expect(err).toBeInstanceOf(GitFetchError);
    expect((err as Error).message).toContain(`${server.url}/missing.git`);
    expect((err as Error).message).toContain('not found');
  });

  it('a cache of another repository, or a damaged one, is wiped and re-cloned', async () => {
    const dataDir = await tempDir();
    const src = await source(repo.url, { dataDir });
    const sha = await src.resolve();
    const cacheRoot = join(dataDir, 'git');
    const [cacheName] = (await readdir(cacheRoot)).filter((n) => !n.endsWith('.lock'));
    expect(cacheName).toBeDefined();
    const cache = join(cacheRoot, cacheName ?? '');
    await runGit(cache, 'config', 'remote.origin.url', 'http://elsewhere.invalid/x.git');
    const fresh = await source(repo.url, { dataDir });
    expect(await fresh.resolve()).toBe(sha);
    expect(await runGit(cache, 'config', 'remote.origin.url')).toBe(repo.url);

    // A truncated pack, as after a crash or a full disk.
    const packDir = join(cache, 'objects', 'pack');
    const packs = (await readdir(packDir)).filter((name) => name.endsWith('.pack'));
    expect(packs.length).toBeGreaterThan(0);
    for (const pack of packs) await writeFile(join(packDir, pack), 'PACK');
    const log = recordingLogger();
    const again = await source(repo.url, { dataDir, logger: log.logger });
    expect(await again.resolve()).toBe(sha);
    expect(log.messages.some((msg) => msg.includes('re-cloning'))).toBe(true);
    expect((await again.readFiles(sha, 'stacks')).size).toBeGreaterThan(0);
  });

  it('a one-shot source works while another holds the cache lock, without touching that cache', async () => {
    const dataDir = await tempDir();
    const daemon = await source(repo.url, { dataDir });
    const sha = await daemon.resolve();
    const cacheRoot = join(dataDir, 'git');
    const cacheName = (await readdir(cacheRoot)).find((n) => !n.endsWith('.lock')) ?? '';
    // A live holder: fresh mtime, as a fetching daemon keeps it.
    const lockPath = join(cacheRoot, `${cacheName}.lock`);
    await writeFile(lockPath, '999999\n');
    const log = recordingLogger();
    const oneShot = await source(repo.url, { dataDir, logger: log.logger });
    expect(await oneShot.resolve()).toBe(sha);
    expect(log.messages.some((msg) => msg.includes('scratch clone'))).toBe(true);
    expect((await oneShot.readFiles(sha, 'stacks')).size).toBe(4);
    expect(await readFile(lockPath, 'utf8')).toBe('999999\n');
    await rm(lockPath);
  });

  it('many resolves on one source in parallel all agree', async () => {
    const src = await source(repo.url);
    const shas = await Promise.all(Array.from({ length: 5 }, () => src.resolve()));
    expect(new Set(shas).size).toBe(1);
  });
});

describe('remote source with HTTP Basic auth', () => {
  const auth = { username: 'capstan', password: 's3cret-t0ken-value' };
  let server: TestGitServer;
  let repo: TestRepo;
  let sha: string;

  beforeAll(async () => {
    server = await startTestGitServer({ auth });
    repo = await server.createRepo('private');
    sha = await repo.commitFiles({ 'stacks/web.yaml': 'services: {}\n' }, 'first');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('works with the right credentials', async () => {
    const src = await source(repo.url, { credentials: auth });
    expect(await src.resolve()).toBe(sha);
    expect((await src.readFiles(sha, 'stacks')).get('stacks/web.yaml')).toBe('services: {}\n');
  });

  it('without credentials is GitAuthError', async () => {
    const src = await source(repo.url);
    const err = await caught(src.resolve());
    expect(err).toBeInstanceOf(GitAuthError);
    expect((err as Error).message).toContain(repo.url);
  });

  it('with wrong credentials is GitAuthError that never shows the password', async () => {
    const wrong = { username: 'capstan', password: 'wr0ng-passw0rd-xyz' };
    const src = await source(repo.url, { credentials: wrong });
    const err = await caught(src.resolve());
    expect(err).toBeInstanceOf(GitAuthError);
    const shown = JSON.stringify({ message: (err as Error).message, data: (err as GitAuthError).data, stack: (err as Error).stack, cause: String((err as Error).cause) });
    expect(shown).not.toContain(wrong.password);
    expect(shown).toContain(repo.url);
  });

  it('takes credentials from the URL when none are given, but never shows them', async () => {
    const withUser = repo.url.replace('http://', `http://${auth.username}:${auth.password}@`);
    const src = await source(withUser);
    expect(src.display).toBe(repo.url);
    expect(await src.resolve()).toBe(sha);
  });
});

describe('remote source failures', () => {
  it('a refused connection is GitFetchError naming the repo', async () => {
    // Bind then close a port so that nothing listens on it.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        const found = typeof address === 'object' && address !== null ? address.port : 0;
        probe.close(() => resolve(found));
      });
    });
    const url = `http://127.0.0.1:${port}/manifests.git`;
    const src = await source(url);
    const err = await caught(src.resolve());
    expect(err).toBeInstanceOf(GitFetchError);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toContain('connection refused');
  });
});

describe('local path source', () => {
  let server: TestGitServer;
  let repo: TestRepo;
  let sha: string;

  beforeAll(async () => {
    server = await startTestGitServer();
    repo = await server.createRepo('local');
    await repo.write('stacks/web.yaml', 'services: {}\n');
    await repo.write('scripts/run.sh', '#!/bin/sh\necho hi\n');
    await chmod(join(repo.workDir, 'scripts/run.sh'), 0o755);
    sha = await repo.commit('first');
    await repo.tag('v1');
    await repo.push();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('reads a work-tree repository in place and sees new commits at once', async () => {
    const src = await source(repo.workDir);
    expect(src.display).toBe(repo.workDir);
    expect(await src.resolve()).toBe(sha);
    expect(await src.resolve('v1')).toBe(sha);
    expect(await src.resolve(sha.slice(0, 8))).toBe(sha);
    expect([...(await src.readFiles(sha, 'stacks')).entries()]).toEqual([['stacks/web.yaml', 'services: {}\n']]);

    const next = await repo.commitFiles({ 'stacks/db.yaml': 'services: {}\n' }, 'second');
    expect(await src.resolve()).toBe(next);
    expect([...(await src.readFiles(next, 'stacks')).keys()].sort()).toEqual(['stacks/db.yaml', 'stacks/web.yaml']);
    expect(await caught(src.resolve('nope'))).toBeInstanceOf(GitRefNotFoundError);
  });

  it('reads a bare repository, including packed objects and refs', async () => {
    await runGit(repo.bareDir, 'gc', '--quiet');
    const src = await source(repo.bareDir);
    const head = await src.resolve();
    expect(head).toBe(await repo.git('rev-parse', 'HEAD'));
    expect(await src.resolve('v1')).toBe(sha);
    expect((await src.readFiles(head, 'stacks')).size).toBe(2);

    const path = await src.materialize(head);
    expect(await readFile(join(path, 'stacks/web.yaml'), 'utf8')).toBe('services: {}\n');
    expect((await stat(join(path, 'scripts/run.sh'))).mode & 0o111).not.toBe(0);
  });

  it('a path that is not a git repository is GitFetchError naming it', async () => {
    const dir = await tempDir();
    const src = await source(dir);
    const err = await caught(src.resolve());
    expect(err).toBeInstanceOf(GitFetchError);
    expect((err as Error).message).toContain(dir);
    expect((err as Error).message).toContain('not a git repository');
  });
});
