// Issue 2 end to end, as a user runs it: a commit pushed to a real smart-HTTP
// Git server becomes containers on the real engine through `capstan apply`,
// only what changed is touched, and nothing Capstan does not own is. With a
// forge configured, apply posts the commit statuses the daemon posts (to a
// local server that checks Gitea's documented request shape).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startForgeServer, type ForgeServer } from '../helpers/forge-server.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await exec('docker', args)).stdout.trim();

const instance = uniqueInstance('t-apply');
// Container names never carry the instance, so the stack name is unique per run.
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-apply-'));
const foreign: string[] = [];
let server: TestGitServer;
let repo: TestRepo;
let forge: ForgeServer;
const FORGE_TOKEN = 'gitea-token-never-printed';

function manifest(opts: { release?: string; replicas?: number; worker?: boolean; typo?: boolean } = {}): string {
  const { release = '1', replicas = 2, worker = true, typo = false } = opts;
  return `name: ${stack}
services:
  web:
    ${typo ? 'imagee' : 'image'}: ${TEST_IMAGE}
    # A shell as PID 1 that traps TERM: httpd alone as PID 1 ignores it, and every stop would wait out the 10 s grace period.
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h / & wait"]
    environment:
      RELEASE: "${release}"
    deploy:
      replicas: ${replicas}
    labels:
      team: shop
${worker ? `  worker:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 81 -h / & wait"]
` : ''}`;
}

function apply(extra: string[] = [], env: Record<string, string> = {}) {
  return capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn', ...extra], env);
}

/** name → id of this instance's containers. */
async function containers(): Promise<Record<string, string>> {
  const out = await docker('ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}} {{.ID}}');
  return Object.fromEntries(out.split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string]));
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  forge = await startForgeServer(FORGE_TOKEN);
});

afterAll(async () => {
  await cleanupInstance(instance);
  for (const id of foreign) await docker('rm', '-f', id).catch(() => undefined);
  await server.close();
  await forge.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan apply against a real Git server and engine', () => {
  let first: Record<string, string>;

  it('turns a pushed commit into labelled containers', async () => {
    // A container the user owns, in the same Compose project, without Capstan's instance label.
    foreign.push(await docker('run', '-d', '--name', `${stack}-mine`, '--label', `com.docker.compose.project=${stack}`, TEST_IMAGE, 'httpd', '-f', '-p', '80'));
    const sha = await repo.commitFiles({ 'stacks/app.yaml': manifest(), 'README.md': '# infra\n' }, 'deploy app');

    const result = await apply();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`create ${stack}-web-1: new service, 2 replicas`);
    expect(result.stdout).toContain(`now runs ${sha.slice(0, 7)}`);

    first = await containers();
    expect(Object.keys(first).sort()).toEqual([`${stack}-web-1`, `${stack}-web-2`, `${stack}-worker-1`]);
    const labels = JSON.parse(await docker('inspect', '--format', '{{json .Config.Labels}}', `${stack}-web-2`)) as Record<string, string>;
    expect(labels).toMatchObject({
      'com.docker.compose.project': stack,
      'com.docker.compose.service': 'web',
      'com.docker.compose.container-number': '2',
      'io.capstan.instance': instance,
      'io.capstan.stack': stack,
      'io.capstan.service': 'web',
      'io.capstan.revision': sha,
      'io.capstan.slot': 'stable',
      team: 'shop',
    });
    expect(labels['io.capstan.spec-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(await docker('inspect', '--format', '{{.State.Running}}', `${stack}-web-1`)).toBe('true');
    // Services find each other by name on the stack's network.
    expect(await docker('exec', `${stack}-worker-1`, 'sh', '-c', 'timeout 2 wget -qO- http://web/etc/hostname >/dev/null && echo reachable')).toBe('reachable');
  });

  it('recreates nothing when nothing changed', async () => {
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^No changes/);
    expect(await containers()).toEqual(first);
  });

  it('recreates only the service whose environment changed', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest({ release: '2' }) }, 'release 2');
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`recreate ${stack}-web-1: env changed: RELEASE`);
    const now = await containers();
    expect(now[`${stack}-worker-1`]).toBe(first[`${stack}-worker-1`]);
    expect(now[`${stack}-web-1`]).not.toBe(first[`${stack}-web-1`]);
    expect(await docker('exec', `${stack}-web-1`, 'sh', '-c', 'echo $RELEASE')).toBe('2');
    first = now;
  });

  it('posts commit statuses for what it deploys, as the daemon does, when a forge is configured', async () => {
    const sha = await repo.commitFiles({ 'stacks/app.yaml': manifest({ release: '3' }) }, 'release 3');
    const withForge = ['--commit-status', 'gitea', '--forge-api', `${forge.url}/gitea/api/v1`, '--forge-repo', 'acme/infra'];
    const result = await apply(withForge, { CAPSTAN_FORGE_TOKEN: FORGE_TOKEN });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`recreate ${stack}-web-1: env changed: RELEASE`);
    // Sent before apply exits: nothing to wait for.
    expect(forge.violations).toEqual([]);
    expect(forge.received.map((r) => [r.path, r.body['context'], r.body['state']])).toEqual([
      [`/gitea/api/v1/repos/acme/infra/statuses/${sha}`, `capstan/${instance}/${stack}`, 'pending'],
      [`/gitea/api/v1/repos/acme/infra/statuses/${sha}`, `capstan/${instance}/${stack}`, 'success'],
    ]);
    expect(forge.received[1]?.body['description']).toBe('deployed: 2/2 services ready');
    // Nothing changed: nothing deployed, nothing posted.
    expect((await apply(withForge, { CAPSTAN_FORGE_TOKEN: FORGE_TOKEN })).stdout).toMatch(/^No changes/);
    expect(forge.received).toHaveLength(2);
    expect(result.stdout + result.stderr).not.toContain(FORGE_TOKEN);
    first = await containers();
  });

  it('scales up keeping the existing replicas', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest({ release: '3', replicas: 3 }) }, 'scale web to 3');
    const plan = await capstan(['plan', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`create ${stack}-web-3: scale up 2 → 3`);

    expect((await apply()).code).toBe(0);
    const now = await containers();
    expect(now[`${stack}-web-1`]).toBe(first[`${stack}-web-1`]);
    expect(now[`${stack}-web-2`]).toBe(first[`${stack}-web-2`]);
    expect(now[`${stack}-web-3`]).toBeDefined();
    const after = await capstan(['plan', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--format', 'json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ changes: 0, operations: [] });
    first = now;
  });

  it('prunes a service removed from Git and leaves what the user owns alone', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest({ release: '3', replicas: 3, worker: false }) }, 'drop worker');
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`remove ${stack}-worker-1: service worker is no longer in stacks/app.yaml`);
    expect(Object.keys(await containers()).sort()).toEqual([`${stack}-web-1`, `${stack}-web-2`, `${stack}-web-3`]);
    expect(await docker('inspect', '--format', '{{.State.Running}}', `${stack}-mine`)).toBe('true');
    first = await containers();
  });

  it('rejects an invalid commit with file:line:col, changing nothing', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest({ release: '3', typo: true }) }, 'typo');
    const result = await apply();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stacks/app.yaml:4:5 services.web.imagee: unknown key (did you mean "image"?)');
    expect(result.stderr).toContain('what runs now keeps running');
    expect(await containers()).toEqual(first);
  });

  it('reports a container name held by a foreign container instead of deleting it', async () => {
    foreign.push(await docker('run', '-d', '--name', `${stack}-web-4`, TEST_IMAGE, 'httpd', '-f', '-p', '80'));
    await repo.commitFiles({ 'stacks/app.yaml': manifest({ release: '3', replicas: 4, worker: false }) }, 'scale to 4');
    const result = await apply();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`container name ${stack}-web-4 is taken`);
    expect(await docker('inspect', '--format', '{{.State.Running}}', `${stack}-web-4`)).toBe('true');
    const labels = JSON.parse(await docker('inspect', '--format', '{{json .Config.Labels}}', `${stack}-web-4`)) as Record<string, string>;
    expect(labels['io.capstan.instance']).toBeUndefined();
  });
});

describe('capstan apply with credentials', () => {
  // Forges accept a token as the Basic-auth password; Capstan sends it with the username GitHub documents.
  const auth = { username: 'x-access-token', password: 's3cret-token-value' };
  let authServer: TestGitServer;
  let authRepo: TestRepo;
  const authInstance = uniqueInstance('t-auth');

  beforeAll(async () => {
    authServer = await startTestGitServer({ auth });
    authRepo = await authServer.createRepo('private');
    await authRepo.commitFiles({ 'stacks/empty.yaml': `name: ${authInstance.replace(/-/g, '')}\nservices: {}\n` }, 'empty stack');
  });
  afterAll(async () => {
    await cleanupInstance(authInstance);
    await authServer.close();
  });

  const run = (env: Record<string, string>) =>
    capstan(['apply', '--repo', authRepo.url, '--instance', authInstance, '--data-dir', join(dataDir, 'auth'), '--log-level', 'warn'], env);

  it('fetches with a token from the environment', async () => {
    const result = await run({ CAPSTAN_GIT_TOKEN: auth.password });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('fails clearly with a wrong token, never printing it', async () => {
    const result = await run({ CAPSTAN_GIT_USERNAME: 'x-access-token', CAPSTAN_GIT_PASSWORD: 'wrong-password-123' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`authentication to ${authRepo.url} failed`);
    expect(result.stderr).toContain('CAPSTAN_GIT_TOKEN');
    expect(result.stderr + result.stdout).not.toContain('wrong-password-123');
  });
});
