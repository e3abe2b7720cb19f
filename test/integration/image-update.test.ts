// x-capstan.image_update against a real registry (tags listed over its HTTP
// API with htpasswd auth) and a real Git server (issue 9, item 5): one scan
// commits the highest tag inside each service's range into the Compose file
// in place — comments and formatting kept — for several services in one
// commit with its trailers; a push that loses a race with another writer is
// rebuilt on the new tip (keeping the other writer's change); a review
// branch starts from the followed branch. `capstan run` commits a bump,
// announces it (image-update.committed, to a local webhook receiver) and
// deploys it.

import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDesired } from '../../src/desired/build.js';
import { dockerCredentials } from '../../src/images/credentials.js';
import { RegistryClient } from '../../src/images/registry.js';
import { ImageUpdater } from '../../src/images/updater.js';
import { silentLogger } from '../../src/logging/logger.js';
import { loadStacks } from '../../src/manifests/load.js';
import { spawnCapstan } from '../helpers/cli.js';
import { cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { eventually } from '../helpers/load.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { docker, removeLocalTags, startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { startForgeServer } from '../helpers/forge-server.js';

const exec = promisify(execFile);
const name = uniqueInstance('t-imgupd');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-imgupd-'));
let server: TestGitServer;
let repo: TestRepo;
let registry: TestRegistry;
let daemon: ChildProcess | undefined;

const compose = (api: string, worker: string): string => `# Shop: the API and its worker.
name: shop
services:
  api:
    image: "${api}"   # bumped by Capstan
    x-capstan:
      image_update: { semver: "^1.4", interval: 1s }

  worker:
    # alpine flavour only
    image: ${worker}
    x-capstan: { image_update: { semver: "~1.1", tag_pattern: '^(?<version>\\d+\\.\\d+\\.\\d+)-alpine$$' } }
  db: { image: postgres:16.1.0 }
`;

function updater(targetBranch = 'main', now: () => number = Date.now, listed: () => void = () => undefined): ImageUpdater {
  const client = new RegistryClient({ credentials: dockerCredentials({ file: join(registry.dockerConfig, 'config.json') }) });
  return new ImageUpdater({
    repo: repo.url, branch: 'main', targetBranch, path: 'stacks', dataDir: join(dataDir, targetBranch.replace(/\//g, '_')),
    credentials: undefined, registry: { listTags: (ref) => client.listTags(ref).finally(listed) },
    author: { name: 'Capstan', email: 'capstan@localhost' }, logger: silentLogger(), now,
  });
}

function desiredOf(files: Record<string, string>) {
  const result = loadStacks(new Map(Object.entries(files)), { root: 'stacks', env: {} });
  expect(result.errors.map((e) => e.format())).toEqual([]);
  return buildDesired('0'.repeat(40), result.stacks);
}

async function show(ref: string, path: string): Promise<string> {
  await repo.git('fetch', '--quiet', 'origin');
  return repo.git('show', `${ref}:${path}`);
}

beforeAll(async () => {
  await exec('bash', [join(import.meta.dirname, '../../scripts/ensure-registry.sh')]);
  [server, registry] = await Promise.all([startTestGitServer(), startTestRegistry()]);
  repo = await server.createRepo('infra');
  // One image under many tags: listing tags is all that matters here.
  for (const tag of ['1.4.2', '1.4.9', '1.5.0', '1.6.0-rc.1', '2.0.0']) await registry.pushNew(`${name}/api`, tag, { label: 'api' });
  for (const tag of ['1.1.0-alpine', '1.1.3-alpine', '1.1.4-bookworm', '1.2.0-alpine']) await registry.pushNew(`${name}/worker`, tag, { label: 'worker' });
}, 240_000);

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await cleanupInstance(name);
  if (registry !== undefined) await removeLocalTags(registry.host, name);
  await registry?.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('image updates committed to Git', () => {
  it('commits the highest tag inside each range, in place, in one commit for both services', async () => {
    const api = `${registry.host}/${name}/api`;
    const worker = `${registry.host}/${name}/worker`;
    const before = compose(`${api}:1.4.2`, `${worker}:1.1.0-alpine`);
    await repo.commitFiles({ 'stacks/shop.yaml': before }, 'shop');

    const scan = await updater().scan(desiredOf({ 'stacks/shop.yaml': before }));
    expect(scan.updates.map((u) => `${u.service} ${u.from} → ${u.to}`)).toEqual(['api 1.4.2 → 1.5.0', 'worker 1.1.0-alpine → 1.1.3-alpine']);
    // Byte for byte the file a person would have written: only the two tags differ.
    expect(await show('origin/main', 'stacks/shop.yaml')).toBe(compose(`${api}:1.5.0`, `${worker}:1.1.3-alpine`).trimEnd());
    const message = await repo.git('log', '-1', '--format=%B', 'origin/main');
    expect(message).toContain('image: 2 updates');
    expect(message).toContain('- image(shop/api): 1.4.2 → 1.5.0');
    expect(message).toContain('Capstan-Image-Update: shop/api 1.4.2 → 1.5.0');
    expect(message).toContain('Capstan-Image-Update: shop/worker 1.1.0-alpine → 1.1.3-alpine');
    expect(await repo.git('log', '--format=%s', 'origin/main')).toBe('image: 2 updates\nshop');

    // Nothing newer inside the ranges: the next scan commits nothing.
    const again = await updater().scan(desiredOf({ 'stacks/shop.yaml': compose(`${api}:1.5.0`, `${worker}:1.1.3-alpine`) }));
    expect(again).toEqual({ commit: undefined, updates: [] });
  });

  it('rebuilds its commit on top of a writer that pushed first, keeping that writer\'s change', async () => {
    const api = `${registry.host}/${name}/api`;
    const worker = `${registry.host}/${name}/worker`;
    await repo.git('reset', '--quiet', '--hard', 'origin/main');
    const current = compose(`${api}:1.4.9`, `${worker}:1.1.3-alpine`);
    await repo.commitFiles({ 'stacks/shop.yaml': current }, 'pin api back');
    let raced = false;
    let armed = false;
    // Once tags are listed, the next call is for the commit's time stamp, between building the commit and pushing it:
    // another writer's commit lands on the server right then (written into its repository directly: this process serves it).
    const now = (): number => {
      if (!raced && armed) {
        raced = true;
        const git = (...args: string[]): string => execFileSync('git', ['-C', repo.bareDir, ...args], { env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 'Other', GIT_AUTHOR_EMAIL: 'o@x', GIT_COMMITTER_NAME: 'Other', GIT_COMMITTER_EMAIL: 'o@x' } }).toString().trim();
        const theirs = git('commit-tree', 'refs/heads/main^{tree}', '-p', 'refs/heads/main', '-m', 'someone else');
        git('update-ref', 'refs/heads/main', theirs);
      }
      return Date.now();
    };
    const scan = await updater('main', now, () => { armed = true; }).scan(desiredOf({ 'stacks/shop.yaml': current }));
    expect(raced).toBe(true);
    expect(scan.commit).toBeDefined();
    await repo.git('fetch', '--quiet', 'origin');
    expect(await repo.git('log', '-3', '--format=%s', 'origin/main')).toBe('image(shop/api): 1.4.9 → 1.5.0\nsomeone else\npin api back');
    expect(await show('origin/main', 'stacks/shop.yaml')).toContain(`image: "${api}:1.5.0"   # bumped by Capstan`);
  });

  it('commits to --image-update-branch, started from the followed branch, leaving that branch alone', async () => {
    const api = `${registry.host}/${name}/api`;
    const worker = `${registry.host}/${name}/worker`;
    await repo.git('fetch', '--quiet', 'origin');
    await repo.git('reset', '--quiet', '--hard', 'origin/main');
    const current = compose(`${api}:1.4.2`, `${worker}:1.1.3-alpine`);
    const head = await repo.commitFiles({ 'stacks/shop.yaml': current }, 'api back to 1.4.2');
    const scan = await updater('capstan/image-updates').scan(desiredOf({ 'stacks/shop.yaml': current }));
    expect(scan.commit).toBeDefined();
    await repo.git('fetch', '--quiet', 'origin');
    expect(await repo.git('rev-parse', 'origin/main')).toBe(head);
    expect(await repo.git('rev-parse', 'origin/capstan/image-updates^')).toBe(head);
    expect(await show('origin/capstan/image-updates', 'stacks/shop.yaml')).toContain(`${api}:1.5.0`);
    await runGit(repo.workDir, 'push', '--quiet', 'origin', ':refs/heads/capstan/image-updates');
  });

  it('capstan run commits the bump to its branch and then deploys it like any commit', async () => {
    const stack = name.replace(/-/g, '');
    const api = `${registry.host}/${name}/api`;
    await repo.git('fetch', '--quiet', 'origin');
    await repo.git('reset', '--quiet', '--hard', 'origin/main');
    await repo.remove('stacks/shop.yaml');
    await repo.commitFiles({ [`stacks/${stack}.yaml`]: `services:
  api:
    image: ${api}:1.4.2
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    x-capstan: { image_update: { semver: "~1.4", interval: 1s } }
` }, 'the daemon follows api');
    let logs = '';
    const receiver = await startForgeServer('unused');
    try {
      daemon = spawnCapstan([
        'run', '--repo', repo.url, '--instance', name, '--data-dir', join(dataDir, 'daemon'), '--interval', '2s', '--listen', '127.0.0.1:0', '--router', 'none', '--status-branch', 'none',
        '--notify-webhook', `${receiver.url}/webhook`,
      ], (t) => (logs += t), { DOCKER_CONFIG: registry.dockerConfig });
      const running = (): Promise<string | undefined> => docker(['inspect', '--format', '{{.Config.Image}}', `${stack}-api-1`]).then((image) => (image === `${api}:1.4.9` ? image : undefined));
      await eventually(running, 90_000, () => `daemon logs:\n${logs.slice(-3000)}`);
      await repo.git('fetch', '--quiet', 'origin');
      expect(await repo.git('log', '-1', '--format=%s', 'origin/main')).toBe(`image(${stack}/api): 1.4.2 → 1.4.9`);
      const bump = await repo.git('rev-parse', 'origin/main');
      await receiver.waitFor((got) => got.some((r) => r.body['kind'] === 'image-update.committed'), 20_000);
      const announced = receiver.received.filter((r) => r.body['kind'] === 'image-update.committed');
      expect(announced.map((r) => r.body)).toEqual([expect.objectContaining({ stack, service: 'api', from: '1.4.2', to: '1.4.9', commit: bump, instance: name })]);
      expect(announced[0]?.headers['x-capstan-event']).toBe('image-update.committed');
      expect(receiver.violations).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
