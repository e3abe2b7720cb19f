// `capstan run` as a user starts it: it converges on start, picks up a push
// within one poll interval, keeps running through a bad commit, and ends
// cleanly (exit 0) on SIGTERM.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { afterPasses, loggedApi } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { eventually } from '../helpers/load.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const instance = uniqueInstance('t-run');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-run-'));
let server: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess;
let logs = '';

const manifest = (release: string, image = 'image'): string => `name: ${stack}
services:
  app:
    ${image}: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
`;

async function releaseRunning(): Promise<string | undefined> {
  const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Label "io.capstan.revision"}}']);
  return stdout.trim() || undefined;
}

const daemonLogs = (): string => `daemon logs:\n${logs.slice(-6000)}`;

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
});

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan run', () => {
  it('converges on start, follows pushes, survives a bad commit, and stops on SIGTERM', async () => {
    const first = await repo.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'first');
    daemon = spawn(process.execPath, [BIN, 'run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--router', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemon.stdout?.on('data', (d: Buffer) => (logs += d.toString()));
    daemon.stderr?.on('data', (d: Buffer) => (logs += d.toString()));

    expect(await eventually(async () => ((await releaseRunning()) === first ? first : undefined), 30_000, daemonLogs)).toBe(first);

    const bad = await repo.commitFiles({ 'stacks/app.yaml': manifest('2', 'imagee') }, 'typo');
    await eventually(async () => (logs.includes(bad.slice(0, 7)) && logs.includes('stacks/app.yaml:4:5 services.app.imagee') ? true : undefined), 15_000, daemonLogs);
    expect(await releaseRunning()).toBe(first);
    // The same bad commit is reported once, not on every pass that sees it.
    await afterPasses(loggedApi(logs), dataDir, stack, 3);
    expect(logs.split('services.app.imagee').length - 1).toBe(1);

    const second = await repo.commitFiles({ 'stacks/app.yaml': manifest('2') }, 'second');
    expect(await eventually(async () => ((await releaseRunning()) === second ? second : undefined), 30_000, daemonLogs)).toBe(second);

    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toContain('"msg":"stopped"');
    // The daemon's containers outlive it: stopping the operator never stops the workload.
    expect(await releaseRunning()).toBe(second);
  });
});
