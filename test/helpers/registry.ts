// A real image registry for tests and benchmarks: Debian's docker-registry
// (the CNCF distribution registry) on 127.0.0.1 at a free port, with htpasswd
// auth (bcrypt, `htpasswd -B`), storage in a temp dir removed on close(). The
// engine treats 127.0.0.0/8 as an insecure registry, so plain HTTP works.
// Images are pushed with the Docker CLI under a DOCKER_CONFIG of the test's
// own (the machine's ~/.docker is never touched), and only under repository
// names the caller chose.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const exec = promisify(execFile);

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of image references. */
  host: string;
  /** Where it keeps what was pushed (another registry can serve the same, read-only use). */
  storage: string;
  username: string;
  password: string;
  /** A DOCKER_CONFIG directory whose config.json holds this registry's credentials in `auths`. */
  dockerConfig: string;
  /** Tags `local` as `<host>/<repo>:<tag>`, pushes it, removes that tag from the engine again; returns the pushed manifest digest. */
  push(local: string, repo: string, tag: string): Promise<string>;
  /** Builds a small image from capstan/busybox (optionally with a unique layer of `bytes` random bytes), pushes it as repo:tag, and leaves no tag on the engine. */
  pushNew(repo: string, tag: string, opts?: { bytes?: number; label?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function docker(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('docker', args, { env: { ...process.env, ...opts.env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`docker ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout.trim());
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** `anonymous: { storage }` serves another registry's images without auth (the bench's comparison of auth costs). */
export async function startTestRegistry(opts: { anonymous?: { storage: string } } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'capstan-test-registry-'));
  const storage = opts.anonymous?.storage ?? join(dir, 'data');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const username = 'capstan';
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const { stdout: htpasswd } = await exec('htpasswd', ['-nbB', username, password]);
  await writeFile(join(dir, 'htpasswd'), htpasswd);
  await writeFile(join(dir, 'config.yml'), `version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: ${storage} }
  delete: { enabled: true }
http:
  addr: ${host}
${opts.anonymous === undefined ? `auth:
  htpasswd: { realm: capstan-test, path: ${join(dir, 'htpasswd')} }
` : ''}`);
  const dockerConfig = join(dir, 'docker-config');
  await exec('mkdir', ['-p', dockerConfig]);
  await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }));

  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-4000); });
  await untilAnswers(host, child, () => log);

  const env = { DOCKER_CONFIG: dockerConfig };
  const push = async (local: string, repo: string, tag: string): Promise<string> => {
    const ref = `${host}/${repo}:${tag}`;
    // An image the engine has under this tag (pulled by Capstan) keeps it: the registry's tag moves, the engine's does not.
    const previous = await docker(['image', 'inspect', '--format', '{{.Id}}', ref]).catch(() => undefined);
    await docker(['tag', local, ref]);
    try {
      const out = await docker(['push', ref], { env });
      const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
      if (digest === undefined) throw new Error(`no digest in docker push output: ${out}`);
      return digest;
    } finally {
      await docker(['rmi', ref]).catch(() => undefined);
      if (previous !== undefined) await docker(['tag', previous, ref]);
    }
  };
  return {
    host,
    storage,
    username,
    password,
    dockerConfig,
    push,
    async pushNew(repo, tag, opts = {}) {
      const local = `capstan-test-build/${repo}:${tag}-${randomBytes(3).toString('hex')}`;
      const lines = ['FROM capstan/busybox:latest'];
      if (opts.bytes !== undefined) lines.push(`RUN head -c ${opts.bytes} /dev/urandom > /payload`);
      lines.push(`LABEL test.capstan.content=${JSON.stringify(opts.label ?? `${repo}:${tag}:${randomBytes(4).toString('hex')}`)}`);
      await docker(['build', '-q', '-t', local, '-'], { env: { DOCKER_BUILDKIT: '0' }, input: `${lines.join('\n')}\n` });
      try {
        return await push(local, repo, tag);
      } finally {
        await docker(['rmi', local]).catch(() => undefined);
      }
    },
    async close() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Removes the images the engine holds under `<registryHost>/<repoPrefix>…`
 * (what a test pulled): only images built by pushNew land there, so removing
 * them by id touches nothing anyone else uses.
 */
export async function removeLocalTags(registryHost: string, repoPrefix: string): Promise<void> {
  const out = await docker(['images', '--digests', '--format', '{{.Repository}}|{{.ID}}']);
  const ids = new Set(out.split('\n').map((l) => l.split('|')).filter(([repo]) => repo?.startsWith(`${registryHost}/${repoPrefix}`)).map(([, id]) => id ?? ''));
  ids.delete('');
  if (ids.size > 0) await docker(['rmi', '-f', ...ids]).catch(() => undefined);
}

async function untilAnswers(host: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${log()}`);
    const status = await fetch(`http://${host}/v2/`).then((r) => r.status, () => 0);
    if (status === 401 || status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`docker-registry on ${host} did not answer within 15 s: ${log()}`);
}
