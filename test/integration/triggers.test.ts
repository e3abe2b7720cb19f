// Instant triggers of a running `capstan run` (the built binary, real Git and
// Docker): a commit in a local-path repository is picked up through the file
// watch, and a webhook POST is picked up at once, both with a poll interval
// of an hour so only the trigger can explain the change.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGet } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const SECRET = 'trigger-test-secret';
const daemons: { child: ChildProcess; logs: () => string }[] = [];
const instances: string[] = [];
const dataDirs: string[] = [];
let server: TestGitServer;

const manifest = (stack: string, release: string): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
`;

async function revisionRunning(instance: string): Promise<string | undefined> {
  const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Label "io.capstan.revision"}}']);
  return stdout.trim() || undefined;
}

/** Starts the daemon on a free port; resolves with its API base URL once it has logged it. */
async function startDaemon(repo: string, prefix: string): Promise<{ instance: string; api: string; dataDir: string; logs: () => string; child: ChildProcess }> {
  const instance = uniqueInstance(prefix);
  instances.push(instance);
  const dataDir = mkdtempSync(join(tmpdir(), 'capstan-triggers-'));
  dataDirs.push(dataDir);
  let out = '';
  const child = spawn(process.execPath, [BIN, 'run', '--repo', repo, '--instance', instance, '--data-dir', dataDir, '--interval', '1h', '--listen', '127.0.0.1:0', '--router', 'none'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CAPSTAN_WEBHOOK_SECRET: SECRET },
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const logs = (): string => out;
  daemons.push({ child, logs });
  const api = await eventually(async () => /"listen":"(http:\/\/[^"]+)"/.exec(out)?.[1], 30_000, logs);
  return { instance, api, dataDir, logs, child };
}

beforeAll(async () => {
  server = await startTestGitServer();
});

afterAll(async () => {
  for (const d of daemons) d.child.kill('SIGKILL');
  for (const i of instances) await cleanupInstance(i);
  await server.close();
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});

describe('triggers of a running daemon', () => {
  it('a commit to a local-path repository is applied through the file watch, not the hourly poll', async () => {
    const repo = await server.createRepo('watched');
    const stack = `w${Date.now().toString(36)}`;
    await repo.write('stacks/app.yaml', manifest(stack, '1'));
    const first = await repo.commit('first');
    const d = await startDaemon(repo.workDir, 't-watch');
    await eventually(async () => ((await revisionRunning(d.instance)) === first ? true : undefined), 60_000, d.logs);
    // /readyz turns 200 once the first pass is over, a moment after its replicas run (a timeout fails the test).
    await eventually(async () => ((await fetch(`${d.api}/readyz`)).status === 200 ? true : undefined), 30_000, d.logs);

    await repo.write('stacks/app.yaml', manifest(stack, '2'));
    const second = await repo.commit('second');
    await eventually(async () => ((await revisionRunning(d.instance)) === second ? true : undefined), 30_000, d.logs);

    const exited = new Promise<number | null>((resolve) => d.child.once('exit', (code) => resolve(code)));
    d.child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('a signed webhook makes a remote push take effect without waiting for the poll; a bad one does nothing', async () => {
    const repo = await server.createRepo('hooked');
    const stack = `h${Date.now().toString(36)}`;
    const first = await repo.commitFiles({ 'stacks/app.yaml': manifest(stack, '1') }, 'first');
    const d = await startDaemon(repo.url, 't-hook');
    await eventually(async () => ((await revisionRunning(d.instance)) === first ? true : undefined), 60_000, d.logs);

    const second = await repo.commitFiles({ 'stacks/app.yaml': manifest(stack, '2') }, 'second');
    const bad = await fetch(`${d.api}/hooks/generic`, { method: 'POST', headers: { authorization: 'Bearer wrong' } });
    expect(bad.status).toBe(401);
    // The bounded wait below would pass without the hook only after an hour.
    const good = await fetch(`${d.api}/hooks/generic`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}` } });
    expect(good.status).toBe(202);
    await eventually(async () => ((await revisionRunning(d.instance)) === second ? true : undefined), 30_000, d.logs);

    // The new replica runs before its rolling update (and so the pass) has finished watching it.
    const status = await eventually(async () => {
      const s = (await (await apiGet(d.api, '/api/status', d.dataDir)).json()) as { lastPass: { revision: string }; stacks: { stack: string }[] };
      return s.lastPass.revision === second ? s : undefined;
    }, 30_000, d.logs);
    expect(status.stacks.map((s) => s.stack)).toEqual([stack]);
    expect(await (await apiGet(d.api, '/metrics', d.dataDir)).text()).toContain(`capstan_stack_ready{stack="${stack}"} 1`);
  });
});
