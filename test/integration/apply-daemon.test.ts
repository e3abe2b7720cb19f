// `capstan apply` while a daemon (`capstan run`) leads the instance: the
// command asks the daemon to make the pass (POST /api/apply) instead of
// racing it, prints what the daemon did, and exits as a one-shot apply
// would; a daemon that follows another instance declines and the command
// applies by itself. Real daemon, real Git server over HTTP (the daemon polls
// hourly, so only the command explains a change), real engine.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan, loggedApi, spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';

const exec = promisify(execFile);
const TOKEN = 'apply-daemon-test-token';
// Stack names are engine-wide (networks are named after them): unique per run.
const STACK = `stacks/ad${Date.now().toString(36)}.yaml`;
let server: TestGitServer;
/** Set by a test: the Git server answers every request with an error. */
let gitBroken = false;
let repo: TestRepo;
let daemon: ChildProcess | undefined;
let logs = '';
let listen = '';
const instance = uniqueInstance('apply-daemon');
const other = uniqueInstance('apply-other');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-apply-daemon-'));
const cliDir = mkdtempSync(join(tmpdir(), 'capstan-apply-cli-'));
const otherDir = mkdtempSync(join(tmpdir(), 'capstan-apply-other-'));

const manifest = (replicas: number, release = '1'): string => `services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: ${replicas}, update_config: { parallelism: 3, monitor: 3s } }
`;

async function running(inst: string): Promise<number> {
  const { stdout } = await exec('docker', ['ps', '-q', '--filter', `label=io.capstan.instance=${inst}`]);
  return stdout.split('\n').filter(Boolean).length;
}

const apply = (inst: string, extra: readonly string[] = []) =>
  capstan(['apply', '--repo', repo.url, '--instance', inst, '--data-dir', cliDir, '--listen', listen, '--status-branch', 'none', '--log-level', 'debug', ...extra], { CAPSTAN_API_TOKEN: TOKEN });

beforeAll(async () => {
  server = await startTestGitServer({ beforeRequest: async () => {
    if (gitBroken) throw new Error('the test broke this Git server');
  } });
  repo = await server.createRepo('apply-daemon');
  await repo.commitFiles({ [STACK]: manifest(1) }, 'one replica');
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1h', '--resync', '1h', '--listen', '127.0.0.1:0', '--router', 'none', '--status-branch', 'none'], (t) => (logs += t), { CAPSTAN_API_TOKEN: TOKEN });
  listen = new URL(await eventually(async () => (logs.includes('"listen"') ? loggedApi(logs) : undefined), 30_000, () => logs)).host;
  await eventually(async () => ((await running(instance)) === 1 ? true : undefined), 60_000, () => logs);
});

afterAll(async () => {
  await tearDownDaemons({ daemons: [daemon], dataDir, instance, servers: [server] });
  await cleanupInstance(other);
  for (const d of [cliDir, otherDir]) rmSync(d, { recursive: true, force: true });
});

describe('capstan apply with a daemon leading the instance', () => {
  it('asks the daemon, which makes the pass; the command prints what it did and made no Git cache of its own', async () => {
    await repo.commitFiles({ [STACK]: manifest(3) }, 'three replicas');
    const r = await apply(instance);
    expect(r.stderr).not.toContain('applying here');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/scale|create/);
    expect(r.stdout).toMatch(/Applied \d+ operations?; instance .* now runs [0-9a-f]{7}\./);
    expect(logs).toContain('capstan apply asked for a pass of every stack');
    // The command returns once the daemon's pass ended: the replicas are there (as after a one-shot apply).
    expect(await running(instance)).toBe(3);
    expect(readdirSync(cliDir)).toEqual([]);

    const again = await apply(instance);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^No changes: instance .* matches [0-9a-f]{7}\.\n$/);
  });

  it('an invalid commit fails the command with the file and line; what runs keeps running', async () => {
    await repo.commitFiles({ [STACK]: `${manifest(3)}    bogus: 1\n` }, 'broken');
    const r = await apply(instance);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/stacks\/ad\w+\.yaml:\d+:\d+ services\.app\.bogus: unknown key/);
    expect(r.stderr).toMatch(/capstan: 1 problem in manifests at [0-9a-f]{7}/);
    expect(await running(instance)).toBe(3);
    await repo.commitFiles({ [STACK]: manifest(3) }, 'fixed');
  });

  it('a daemon following another instance declines, and the command applies by itself', async () => {
    const elsewhere = await server.createRepo('apply-other');
    await elsewhere.commitFiles({ [`stacks/ao${Date.now().toString(36)}.yaml`]: manifest(1) }, 'another stack');
    const r = await capstan(['apply', '--repo', elsewhere.url, '--instance', other, '--data-dir', otherDir, '--listen', listen, '--status-branch', 'none', '--log-level', 'debug'], { CAPSTAN_API_TOKEN: TOKEN });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/applying here: .*answered HTTP 409: the daemon follows instance/);
    expect(await running(other)).toBe(1);
    expect(await running(instance)).toBe(3);
  });

  it('--force applies by itself, without asking the daemon', async () => {
    const r = await apply(instance, ['--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^No changes/);
    expect(readdirSync(cliDir).length).toBeGreaterThan(0);
  });

  it('waits through the daemon\'s rolling update, saying it waits, and returns once it ended', async () => {
    await repo.commitFiles({ [STACK]: manifest(3, '2') }, 'release 2');
    const r = await apply(instance);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/capstan: the daemon at http:\/\/127\.0\.0\.1:\d+\/api\/apply is applying; waiting for its passes to end/);
    expect(r.stdout).toMatch(/Applied \d+ operations?; instance .* now runs [0-9a-f]{7}\./);
    // Ended means done: every replica runs the new release, none of the old ones is left.
    const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.ID}}']);
    const ids = stdout.split('\n').filter(Boolean);
    expect(ids).toHaveLength(3);
    const envs = await Promise.all(ids.map(async (id) => (await exec('docker', ['inspect', '--format', '{{json .Config.Env}}', id])).stdout));
    expect(envs.every((e) => e.includes('RELEASE=2'))).toBe(true);
  });

  it('a branch the daemon cannot read fails the command with why, and what runs keeps running', async () => {
    gitBroken = true;
    try {
      const r = await apply(instance);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/capstan: cannot fetch .*HTTP 500/);
      expect(r.stdout).not.toContain('No changes');
      expect(await running(instance)).toBe(3);
    } finally {
      gitBroken = false;
    }
  });
});
