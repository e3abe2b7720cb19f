// Issue 14 item 7: stack networks get their subnets from Capstan's own pool.
// This engine's default pools are large, so the wall Compose users hit at
// ~30 networks cannot be shown here; the allocation itself is: a pool of four
// /28s, one of them taken by a network Capstan does not own, and four stacks.
// Three get distinct subnets inside the pool that skip the taken one; the
// fourth is refused with a clear "pool exhausted" error.

import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan, spawnCapstan } from '../helpers/cli.js';
import { eventually } from '../helpers/load.js';
import { freePort } from '../helpers/net.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await exec('docker', args)).stdout.trim();

const instance = uniqueInstance('t-subnets');
const prefix = instance.replace(/-/g, '');
const stacks = ['a', 'b', 'c', 'd'].map((s) => `${prefix}${s}`);
// A random /26 of 10.231.128.0/17, so runs side by side do not share a pool.
const third = randomInt(128, 256);
const fourth = randomInt(0, 4) * 64;
const pool = `10.231.${third}.${fourth}/26`;
const subnet = (i: number): string => `10.231.${third}.${fourth + i * 16}/28`;
const foreign = `${prefix}-mine`;
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-subnets-'));
let server: TestGitServer;
let repo: TestRepo;

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  // Someone else's network in the second /28 of the pool.
  await docker('network', 'create', '--subnet', subnet(1), foreign);
});

afterAll(async () => {
  await cleanupInstance(instance);
  await docker('network', 'rm', foreign).catch(() => undefined);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the subnet pool for stack networks', () => {
  it('gives each stack network its own free subnet of the pool and says when the pool is exhausted', async () => {
    const files = Object.fromEntries(stacks.map((name) => [`stacks/${name}.yaml`, `name: ${name}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ["sleep", "3600"]\n`]));
    await repo.commitFiles(files, 'four stacks');
    const result = await capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--status-branch', 'none', '--subnet-pool', pool, '--subnet-size', '28']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`the subnet pool ${pool.replace(/\./g, '\\.')} is exhausted \\(all 4 /28 subnets overlap networks of the engine or routes of the host\\)`));
    expect(result.stderr).toContain('hint: widen --subnet-pool');

    const networks = (await docker('network', 'ls', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Name}}')).split('\n').filter((n) => n !== '');
    expect(networks).toHaveLength(3);
    const subnets = await Promise.all(networks.map((n) => docker('network', 'inspect', n, '--format', '{{range .IPAM.Config}}{{.Subnet}}{{end}}')));
    expect(subnets.sort()).toEqual([subnet(0), subnet(2), subnet(3)].sort());
    // The stacks that got a network run.
    const running = await docker('ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}');
    expect(running.split('\n').filter((n) => n !== '')).toHaveLength(3);
  });

  it('backs off the stack that keeps failing, with one log line per change instead of one per pass, and retries at once on a new commit', async () => {
    let logs = '';
    const daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--status-branch', 'none', '--router', 'none', '--interval', '1s',
      '--listen', `127.0.0.1:${await freePort()}`, '--log-level', 'debug', '--subnet-pool', pool, '--subnet-size', '28'], (text) => (logs += text));
    try {
      const lines = (): Record<string, unknown>[] => logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const loud = (word: string): number => lines().filter((l) => Number(l['level']) >= 40 && String(l['msg']).includes(word)).length;
      // Passes go on (the loop's own debug line for an error it has seen), the stack waits longer each time.
      await eventually(async () => (lines().filter((l) => String(l['msg']).startsWith('still failing:')).length >= 6 ? true : undefined), 60_000, () => logs);
      expect(loud('is exhausted')).toBe(1);
      expect(loud('fails the same way again')).toBe(1);

      // Someone frees a subnet; a new commit for the stack ends its wait.
      await docker('network', 'rm', foreign);
      await repo.commitFiles({ [`stacks/${stacks[3] ?? ''}.yaml`]: `name: ${stacks[3] ?? ''}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ["sleep", "3601"]\n` }, 'touch the fourth stack');
      await eventually(async () => (logs.includes(`${stacks[3] ?? ''}: applied after`) ? true : undefined), 60_000, () => logs);
      expect(await docker('network', 'inspect', `${stacks[3] ?? ''}_default`, '--format', '{{range .IPAM.Config}}{{.Subnet}}{{end}}')).toBe(subnet(1));
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    }
  });
});
