// The operator's everyday commands through the built CLI, a real Git server
// and the real engine: `capstan apply` reporting progress (log lines in a
// pipe, live lines on a terminal), `capstan history` reading the deploys back
// from the status branch (a success, a rollout, a rolled-back release), and
// `capstan ps` listing the replicas like `docker compose ps`.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const instance = uniqueInstance('t-opscli');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-opscli-'));
let server: TestGitServer;
let repo: TestRepo;

const manifest = (release: string, command = "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(command)}]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 2, update_config: { monitor: 1s } }
`;

const common = (): string[] => ['--repo', repo.url, '--instance', instance, '--data-dir', dataDir];
// No daemon, so no router: the containers publish their own ports, as with docker compose.
const NO_ROUTER = { CAPSTAN_ROUTER: 'none' };

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('operator commands', () => {
  const shas: string[] = [];

  it('apply reports progress as log lines when stderr is not a terminal', async () => {
    shas.push(await repo.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'release 1'));
    const first = await capstan(['apply', ...common()], NO_ROUTER);
    expect(first.code).toBe(0);
    const lines = first.stderr.split('\n').filter((l) => l.includes('"progress"')).map((l) => JSON.parse(l) as { progress: string; msg: string });
    expect(lines.at(-1)).toMatchObject({ progress: 'apply', msg: 'apply: 3/3 operations applied' });

    shas.push(await repo.commitFiles({ 'stacks/app.yaml': manifest('2') }, 'release 2'));
    const second = await capstan(['apply', ...common()], NO_ROUTER);
    expect(second.code).toBe(0);
    const rollout = second.stderr.split('\n').filter((l) => l.includes(`"progress":"rollout ${stack}/app"`)).map((l) => JSON.parse(l) as { msg: string; done?: boolean });
    expect(rollout.map((l) => `${l.done === true ? 'done ' : ''}${l.msg}`)).toEqual([
      `rollout ${stack}/app: 0/2 replicas updated`, `rollout ${stack}/app: 1/2 replicas updated`, `rollout ${stack}/app: 2/2 replicas updated`, `done rollout ${stack}/app: 2/2 replicas updated`,
    ]);
  });

  it('apply draws live lines on a terminal, and keeps log lines above them', async () => {
    shas.push(await repo.commitFiles({ 'stacks/app.yaml': manifest('3', 'exit 3') }, 'release 3 (broken)'));
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const cmd = [process.execPath, BIN, 'apply', ...common(), '--log-format', 'pretty', '--log-level', 'warn'].map((a) => `'${a}'`).join(' ');
    const { stdout } = await exec('script', ['-qefc', cmd, '/dev/null'], { env: { ...process.env, ...NO_ROUTER, COLUMNS: '120', TERM: 'xterm' }, timeout: 120_000 }).catch((e: { stdout: string }) => e);
    expect(stdout).toContain('\x1b[J');
    expect(stdout).toContain(`✗ rollout ${stack}/app: rolled-back`);
    expect(stdout).toMatch(/✓ apply: .*operations applied|✗ apply: .*failed/);
  });

  it('history lists the deploys from the status branch, newest first, with outcome and duration', async () => {
    const text = await capstan(['history', stack, ...common()]);
    expect(text.code).toBe(0);
    const rows = text.stdout.split('\n');
    expect(rows[0]).toBe(`Deploys of ${stack} (from capstan/status of ${repo.url}), newest first:`);
    expect(rows[1]).toMatch(/^STARTED\s+REVISION\s+OUTCOME\s+DURATION\s+MESSAGE$/);
    expect(rows[2]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+${shas[2]?.slice(0, 7)}\\s+rolled-back\\s+`));
    const json = JSON.parse((await capstan(['history', stack, ...common(), '--format', 'json'])).stdout) as { deploys: { revision: string; outcome: string }[] };
    expect(json.deploys.map((d) => [d.revision, d.outcome])).toEqual([[shas[2], 'rolled-back'], [shas[1], 'succeeded'], [shas[0], 'succeeded']]);
    const none = await capstan(['history', 'nosuchstack', ...common()]);
    expect(none.stdout).toBe(`No deploys of nosuchstack in capstan/status of ${repo.url}.\n`);
  });

  it('ps lists each replica with state, uptime, revision and image id', async () => {
    const json = JSON.parse((await capstan(['ps', ...common(), '--format', 'json'])).stdout) as { name: string; state: string; uptimeSeconds: number; revision: string; imageId: string; health: string | null }[];
    expect(json.map((r) => [r.name, r.state])).toEqual([[`${stack}-app-1`, 'running'], [`${stack}-app-2`, 'running']]);
    // A replica the rollback put back to release 2's spec is labelled with the revision that was being deployed (the rollout's doing, not ps's).
    for (const r of json) expect([shas[1], shas[2]]).toContain(r.revision);
    for (const r of json) {
      expect(r.uptimeSeconds).toBeGreaterThanOrEqual(0);
      expect(r.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    }
    const text = await capstan(['ps', stack, ...common()]);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^NAME\s+SERVICE\s+STATE\s+HEALTH\s+UPTIME\s+REVISION\s+IMAGE\s+DIGEST$/);
    expect(text.stdout).toMatch(new RegExp(`^${stack}-app-1\\s+${stack}/app\\s+running\\s+-\\s+\\d+s?\\S*\\s+[0-9a-f]{7}\\s+${TEST_IMAGE.replace(/[/.]/g, '\\$&')}\\s+sha256:[0-9a-f]{12}$`, 'm'));
    expect(text.stdout).toContain("Health from Docker's healthchecks only (no daemon answered");
  });
});
