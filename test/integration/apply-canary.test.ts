// `capstan apply` (one-shot, no daemon) of a release whose canary has a
// manual step: it starts the step's canary replica, says the step waits for
// `capstan promote`, and returns — rather than passing the stack again and
// again (it did, 10,000 times, snapshotting the engine each time, and then
// reported the pause as applied).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-apcanary');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-apply-canary-'));
let server: TestGitServer;
let repo: TestRepo;

const manifest = (release: string): string => `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "echo ${release} > /index.html; trap 'exit 0' TERM; httpd -f -p 80 -h / & wait"]
    deploy: { replicas: 2 }
    x-capstan:
      route: { path: / }
      strategy: canary
      canary: { steps: [ { weight: 50, pause: manual }, { weight: 100 } ] }
`;

const apply = () => capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--status-branch', 'none', '--log-level', 'info']);

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
});
afterAll(async () => {
  await cleanupInstance(instance);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan apply with a manual canary step', () => {
  it('starts the step, says it waits for capstan promote, and returns after a few passes', async () => {
    await repo.commitFiles({ 'stacks/web.yaml': manifest('1') }, 'release 1');
    expect((await apply()).code).toBe(0);
    await repo.commitFiles({ 'stacks/web.yaml': manifest('2') }, 'release 2 as a canary');
    const second = await apply();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`${stack}/web: canary step 1/2 (50%) paused (manual), waiting for \`capstan promote ${stack}/web\``);
    // One line per pass that had operations: the first, and the step that started the canary.
    const passes = second.stderr.split('\n').filter((l) => l.includes('"msg":"applying ')).length;
    expect(passes).toBeGreaterThan(0);
    expect(passes).toBeLessThanOrEqual(3);
    const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}']);
    expect(stdout.split('\n').filter((l) => l !== '').sort()).toEqual([`${stack}-web-1`, `${stack}-web-1-canary`, `${stack}-web-2`]);
  });
});
