// A huge commit never blocks healing (issue 10, item 3): while the daemon
// validates a commit of 50,000-key mappings (off its main thread), a replica
// of another stack is killed, and that stack's lane heals it from the stack
// as last loaded instead of waiting (issue 11: lanes). How long the validation takes is a bench
// figure (npm run bench:validate), not an assertion here.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedApi, spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { eventually } from '../helpers/load.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await exec('docker', args)).stdout.trim();

const instance = uniqueInstance('t-big');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-big-'));
const policy = join(dataDir, '..', `${stack}-policy.yaml`);
let server: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess | undefined;
let logs = '';

const SLEEPER = `["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`;
const steady = `name: ${stack}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ${SLEEPER}\n`;
/** A stack whose extension field holds 50,000 keys: all of it is parsed and checked, none of it reaches the engine. */
const big = (n: number): string => `name: ${stack}big${n}\nx-big:\n${Array.from({ length: 50_000 }, (_, i) => `  key${i}: value-${i}`).join('\n')}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ${SLEEPER}\n`;
const running = async (name: string): Promise<string | undefined> => {
  const out = await docker('ps', '--filter', `name=^${name}$`, '--format', '{{.ID}}').catch(() => '');
  return out === '' ? undefined : out;
};

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('big');
  writeFileSync(policy, 'limits: { keys_per_mapping: 60000, file_bytes: 4194304 }\n');
  await repo.commitFiles({ 'stacks/steady.yaml': steady }, 'steady');
});

afterAll(async () => {
  await tearDownDaemons({ daemons: [daemon], dataDir, instance, servers: [server] });
  rmSync(policy, { force: true });
});

describe('a huge commit and healing', () => {
  it('heals a killed replica of another stack without waiting for the big commit to validate', async () => {
    daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1h', '--listen', '127.0.0.1:0', '--router', 'none', '--status-branch', 'none', '--policy', policy], (t) => (logs += t));
    const explain = (): string => `daemon logs:\n${logs.slice(-4000)}`;
    const first = await eventually(() => running(`${stack}-app-1`), 60_000, explain);

    // Several 50,000-key files, so the validation outlasts the heal on any machine.
    const files = Object.fromEntries([1, 2, 3, 4, 5, 6].map((n) => [`stacks/big${n}.yaml`, big(n)]));
    const bigSha = await repo.commitFiles(files, 'six stacks of 50,000 keys each');
    // No poll for an hour: a sync asks for the new commit (as a webhook would),
    // and while it validates, the kill's engine event wakes the steady stack's lane.
    const token = readFileSync(join(dataDir, 'api.token'), 'utf8').trim();
    const sync = await fetch(`${loggedApi(logs)}/api/sync`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(sync.status, explain()).toBeLessThan(300);
    await eventually(async () => (logs.includes(`validating ${bigSha.slice(0, 7)} in the background`) ? true : undefined), 60_000, explain);
    await docker('kill', `${stack}-app-1`);

    await eventually(async () => ((await running(`${stack}-app-1`)) === first ? true : undefined), 60_000, explain);
    const healedAt = logs.indexOf(`drift: container ${stack}-app-1 was stopped`);
    const background = logs.indexOf(`validating ${bigSha.slice(0, 7)} in the background`);
    expect(background, explain()).toBeGreaterThanOrEqual(0);
    expect(healedAt, explain()).toBeGreaterThan(background);

    // Then the big commit is applied, after the heal.
    await eventually(() => running(`${stack}big1-app-1`), 120_000, explain);
    const createdAt = logs.indexOf(`create ${stack}big1-app-1`);
    expect(createdAt, explain()).toBeGreaterThan(healedAt);
  });
});
