// Drift that a pass corrects, through the real CLI: a stack whose replicas
// were removed and whose network was then removed by hand (a network with
// containers attached cannot be removed, so that is the realistic order) is
// whole again after the next apply, with the causes in the plan.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, instanceContainers, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-drift');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-drift-'));
let server: TestGitServer;
let repo: TestRepo;

const args = (): string[] => ['--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn'];

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  await repo.commitFiles({ 'stacks/app.yaml': `name: ${stack}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ["sleep", "3600"]\n` }, 'first');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('drift', () => {
  it('recreates a removed network and its replicas on the next pass', async () => {
    expect((await capstan(['apply', ...args()])).code).toBe(0);
    const ids = await instanceContainers(instance);
    await exec('docker', ['rm', '-f', ...ids]);
    await exec('docker', ['network', 'rm', `${stack}_default`]);

    const plan = await capstan(['plan', ...args()]);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`network ${stack}_default does not exist`);
    expect(plan.stdout).toContain('new service, 1 replica');

    expect((await capstan(['apply', ...args()])).code).toBe(0);
    const { stdout } = await exec('docker', ['inspect', '--format', '{{.State.Running}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}', `${stack}-app-1`]);
    expect(stdout.trim()).toBe(`true ${stack}_default`);
  });

  it('restarts a stopped replica, naming the drift', async () => {
    await exec('docker', ['stop', '-t', '1', `${stack}-app-1`]);
    const plan = await capstan(['plan', ...args()]);
    expect(plan.stdout).toContain(`start ${stack}-app-1: drift: container ${stack}-app-1 was stopped (exit code`);
  });
});
