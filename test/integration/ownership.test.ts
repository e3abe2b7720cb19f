// What belongs to someone else is never joined, mounted or removed (issue 10,
// item 1), on the real engine: a network or volume of the stack's name made
// by another instance fails the stack with an error naming its owner, and no
// container is created on it. (A container holding a replica's name is
// covered in docker-backend.test.ts.)

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
const docker = async (...args: string[]): Promise<string> => (await exec('docker', args)).stdout.trim();

const instance = uniqueInstance('t-own');
const other = uniqueInstance('t-other');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-own-'));
let server: TestGitServer;
let repo: TestRepo;

const SLEEPER = `["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]`;
const apply = () => capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--status-branch', 'none', '--log-level', 'warn']);

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('own');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await cleanupInstance(other);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('objects of other owners', () => {
  it("never joins another instance's network or mounts its volume, and names the owner", async () => {
    // What a second instance with the same stack name made first.
    await docker('network', 'create', '--label', `io.capstan.instance=${other}`, '--label', `io.capstan.stack=${stack}`, `${stack}_default`);
    await docker('volume', 'create', '--label', `io.capstan.instance=${other}`, '--label', `io.capstan.stack=${stack}`, `${stack}_data`);
    await repo.commitFiles({ 'stacks/app.yaml': `name: ${stack}\nservices:\n  app:\n    image: ${TEST_IMAGE}\n    command: ${SLEEPER}\n    volumes: [data:/data]\nvolumes:\n  data:\n` });
    const r = await apply();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`network ${stack}_default exists and belongs to Capstan instance ${other}, stack ${stack}, not to this instance`);
    expect(r.stderr).toContain(`volume ${stack}_data exists and belongs to Capstan instance ${other}, stack ${stack}, not to this instance`);
    expect(await instanceContainers(instance)).toEqual([]);
    expect(await docker('network', 'inspect', '--format', '{{len .Containers}}', `${stack}_default`)).toBe('0');
  });
});
