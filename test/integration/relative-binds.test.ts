// Relative binds on the real engine (issue 10, item 5) and secrets read from
// Git objects (item 4): a tracked config file is mounted read-only from the
// deployed revision and a change to it rolls the service; a data directory
// lives under <data-dir>/binds and survives the recreate; a checkout whose
// secret file was swapped for a link to /proc/self/environ still yields the
// committed secret, never the operator's environment; and a replica made
// before the split has what it wrote into its checkout moved to the data
// directory, where its replacement finds it.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await exec('docker', args)).stdout.trim();

const instance = uniqueInstance('t-binds');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-binds-'));
// What the attack tried to steal: the operator's own environment.
const OPERATOR_SECRET = 'operator-token-do-not-leak';
let server: TestGitServer;
let repo: TestRepo;

const compose = `name: ${stack}
services:
  proxy:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    volumes:
      - ./conf/app.conf:/etc/app/app.conf:ro
      - ./data:/data
    secrets: [token]
secrets:
  token: { file: ./token.txt }
`;

const run = (cmd: 'apply' | 'plan') => capstan([cmd, '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn', ...(cmd === 'apply' ? ['--status-branch', 'none'] : [])], { CAPSTAN_GIT_TOKEN: OPERATOR_SECRET });
const inProxy = (script: string): Promise<string> => docker('exec', `${stack}-proxy-1`, 'sh', '-c', script);

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('binds');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('relative binds and secrets from Git objects on the real engine', () => {
  let rev1 = '';

  it('mounts a tracked file read-only from the revision and a data directory writable under <data-dir>/binds', async () => {
    rev1 = await repo.commitFiles({ 'stacks/app/compose.yaml': compose, 'stacks/app/conf/app.conf': 'v1\n', 'stacks/app/token.txt': 'committed-token', 'stacks/app/data/.gitkeep': '' }, 'app');
    const r = await run('apply');
    expect(r.code, r.stderr).toBe(0);
    expect(await inProxy('cat /etc/app/app.conf')).toBe('v1');
    await expect(inProxy('echo hacked > /etc/app/app.conf')).rejects.toThrow(/Read-only file system/);
    await inProxy('echo kept > /data/written-by-app');
    expect(readFileSync(join(dataDir, 'binds', stack, 'stacks/app/data/written-by-app'), 'utf8')).toBe('kept\n');
    expect(await inProxy('cat /run/secrets/token')).toBe('committed-token');
  });

  it('reads secrets from the Git blob even when the checkout holds a link to the operator environment', async () => {
    const checkoutFile = join(dataDir, 'checkouts', rev1, 'stacks/app/token.txt');
    expect(existsSync(checkoutFile)).toBe(true);
    rmSync(checkoutFile);
    symlinkSync('/proc/self/environ', checkoutFile);
    await docker('rm', '-f', `${stack}-proxy-1`);
    const r = await run('apply');
    expect(r.code, r.stderr).toBe(0);
    const token = await inProxy('cat /run/secrets/token');
    expect(token).toBe('committed-token');
    expect(token).not.toContain(OPERATOR_SECRET);
    // The data directory outlived the container.
    expect(await inProxy('cat /data/written-by-app')).toBe('kept');
  });

  it('rolls the service when the tracked file changes, and keeps the data directory', async () => {
    await repo.commitFiles({ 'stacks/app/conf/app.conf': 'v2\n' }, 'conf v2');
    const plan = await run('plan');
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stdout).toContain(`recreate ${stack}-proxy-1: bind ./conf/app.conf content changed`);
    const r = await run('apply');
    expect(r.code, r.stderr).toBe(0);
    expect(await inProxy('cat /etc/app/app.conf')).toBe('v2');
    expect(await inProxy('cat /data/written-by-app')).toBe('kept');
    const noop = await run('plan');
    expect(noop.code, noop.stdout).toBe(0);
  });
});

describe('upgrading from per-revision checkouts', () => {
  it('moves what a replica made before the split wrote into its checkout to the data directory, and the new replica sees it', async () => {
    const running = JSON.parse(await docker('inspect', `${stack}-proxy-1`)) as [{ Config: { Labels: Record<string, string> } }];
    const labels = running[0].Config.Labels;
    const revision = labels['io.capstan.revision'] ?? '';
    // What an earlier Capstan made: the same service, its relative binds without the tracked/data split, mounted from the checkout.
    const spec = JSON.parse(labels['io.capstan.spec'] ?? '{}') as { volumes: { type: string; source: string; target: string; readOnly: boolean; relative: boolean }[] };
    spec.volumes = spec.volumes.map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly, relative: m.relative }));
    const legacyData = join(dataDir, 'checkouts', revision, 'stacks/app/data');
    const legacyLabels = { ...labels, 'io.capstan.spec': JSON.stringify(spec), 'io.capstan.spec-hash': 'f'.repeat(64) };
    await docker('rm', '-f', `${stack}-proxy-1`);
    rmSync(join(dataDir, 'binds'), { recursive: true, force: true });
    await docker('run', '-d', '--name', `${stack}-proxy-1`, ...Object.entries(legacyLabels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '-v', `${legacyData}:/data`, TEST_IMAGE, 'sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait");
    await inProxy('echo written-before-the-upgrade > /data/old.txt');

    const plan = await run('plan');
    expect(plan.stdout).toContain(`recreate ${stack}-proxy-1: bind ./conf/app.conf now mounted read-only from the revision, bind ./data now persists in the data directory`);
    const r = await run('apply');
    expect(r.code, r.stderr).toBe(0);
    expect(await inProxy('cat /data/old.txt')).toBe('written-before-the-upgrade');
    expect(readFileSync(join(dataDir, 'binds', stack, 'stacks/app/data/old.txt'), 'utf8')).toBe('written-before-the-upgrade\n');
    expect(existsSync(legacyData)).toBe(false);
  });
});
