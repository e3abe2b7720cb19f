// Status in Git (issue 3, item 1) through the real CLI, a real smart-HTTP
// Git server and the real engine: what `apply` writes to the status branch,
// that idle passes add nothing, that a concurrent writer on the branch does
// not lose anyone's commit, and what `capstan status` prints from it.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiGet, capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { freePort } from '../helpers/net.js';

const instance = uniqueInstance('t-status');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-status-'));
const cloneDir = mkdtempSync(join(tmpdir(), 'capstan-status-clone-'));
let server: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess | undefined;

const manifest = (release: string, key = 'image'): string => `name: ${stack}
services:
  app:
    ${key}: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 2 }
`;

function cli(command: string, extra: string[] = []) {
  return capstan([command, '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn', ...extra]);
}

/** The status branch as the server has it, read with the git CLI (a second, independent implementation). */
async function statusBranch(): Promise<{ commits: string[]; file: (path: string) => Promise<string> }> {
  await runGit(cloneDir, 'fetch', '--quiet', repo.url, '+refs/heads/capstan/status:refs/remotes/status');
  const log = await runGit(cloneDir, 'log', '--format=%H %s', 'refs/remotes/status');
  return { commits: log.split('\n').filter((l) => l !== ''), file: (path) => runGit(cloneDir, 'show', `refs/remotes/status:${path}`) };
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  await runGit(cloneDir, 'init', '--quiet', '--bare');
});

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(cloneDir, { recursive: true, force: true });
});

describe('status in Git', () => {
  let deployed: string;

  it('commits the status of a deploy to an orphan capstan/status branch', async () => {
    deployed = await repo.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'deploy app');
    const result = await cli('apply');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const branch = await statusBranch();
    expect(branch.commits).toHaveLength(1);
    expect(branch.commits[0]).toMatch(new RegExp(` status\\(${stack}\\): Ready at ${deployed.slice(0, 7)}$`));
    const sha = branch.commits[0]?.split(' ')[0] ?? '';
    // An orphan: no parent, and none of the manifests' history.
    expect(await runGit(cloneDir, 'rev-list', '--count', sha)).toBe('1');
    const message = await runGit(cloneDir, 'log', '-1', '--format=%an <%ae>%n%B', sha);
    expect(message).toContain('Capstan <capstan@localhost>');
    expect(message).toContain(`Capstan-Revision: ${deployed}`);
    expect(message).toContain(`Capstan-Instance: ${instance}`);

    const status = parse(await branch.file(`status/${stack}.yaml`)) as Record<string, unknown>;
    expect(status).toMatchObject({
      stack,
      lastAppliedRevision: deployed,
      lastAttemptedRevision: deployed,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Converged', message: '1/1 services ready' }],
      services: { app: { image: TEST_IMAGE, replicas: { desired: 2, ready: 2 } } },
    });
    expect((status['services'] as { app: { specHash: string } }).app.specHash).toMatch(/^[0-9a-f]{64}$/);
    const text = await branch.file(`status/${stack}.yaml`);
    // The design's layout: one line per condition and per service.
    expect(text).toMatch(/^ {2}- \{ type: Ready, status: "True", reason: Converged, message: 1\/1 services ready, lastTransitionTime: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \}$/m);
    expect(parse(await branch.file('status/_operator.yaml'))).toEqual({ instance, version: expect.any(String), backend: 'docker', lastError: null });
  });

  it('adds no commit when idle passes find nothing new', async () => {
    for (let i = 0; i < 2; i++) expect((await cli('apply')).code).toBe(0);
    expect((await statusBranch()).commits).toHaveLength(1);
  });

  it('reports an invalid commit as Stalled with file:line and keeps the last applied revision', async () => {
    const bad = await repo.commitFiles({ 'stacks/app.yaml': manifest('2', 'imagee') }, 'typo');
    expect((await cli('apply', ['--git-author', 'Ops Bot <ops@example.test>'])).code).toBe(1);
    const branch = await statusBranch();
    expect(branch.commits).toHaveLength(2);
    expect(await runGit(cloneDir, 'log', '-1', '--format=%an <%ae>', 'refs/remotes/status')).toBe('Ops Bot <ops@example.test>');
    expect(branch.commits[0]).toContain(`status(${stack}): Stalled at ${bad.slice(0, 7)}`);
    const status = parse(await branch.file(`status/${stack}.yaml`)) as { lastAppliedRevision: string; lastAttemptedRevision: string; conditions: { type: string; status: string; message: string }[] };
    expect(status.lastAppliedRevision).toBe(deployed);
    expect(status.lastAttemptedRevision).toBe(bad);
    expect(status.conditions.find((c) => c.type === 'Stalled')).toMatchObject({ status: 'True' });
    expect(status.conditions.find((c) => c.type === 'Stalled')?.message).toContain('stacks/app.yaml:4:5 services.app.imagee');

    const shown = await cli('status');
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(3);
    expect(shown.stdout).toMatch(new RegExp(`^${stack}\\s+False\\s+ManifestsInvalid\\s+${deployed.slice(0, 7)}\\s+${bad.slice(0, 7)}\\s+2/2`, 'm'));
  });

  it('lands its status push on top of another writer, never force-pushing', async () => {
    // Someone else (another tool, a human) pushes to the status branch between passes.
    const other = await server.createRepo('other-writer');
    await other.git('fetch', '--quiet', repo.url, 'capstan/status');
    await other.git('checkout', '--quiet', '-b', 'status', 'FETCH_HEAD');
    await other.write('NOTES.md', 'hands off\n');
    const theirs = await other.commit('notes from another writer');
    await other.git('push', '--quiet', repo.url, 'HEAD:refs/heads/capstan/status');

    const fixed = await repo.commitFiles({ 'stacks/app.yaml': manifest('2') }, 'release 2');
    const applied = await cli('apply');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const branch = await statusBranch();
    expect(branch.commits[0]).toContain(`status(${stack}): Ready at ${fixed.slice(0, 7)}`);
    expect(branch.commits.map((c) => c.split(' ')[0])).toContain(theirs);
    expect(await branch.file('NOTES.md')).toBe('hands off');

    const shown = await cli('status');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^STACK\s+READY\s+REASON\s+APPLIED\s+ATTEMPTED\s+REPLICAS\s+MESSAGE$/m);
    expect(shown.stdout).toMatch(new RegExp(`^${stack}\\s+True\\s+Converged\\s+${fixed.slice(0, 7)}\\s+${fixed.slice(0, 7)}\\s+2/2\\s+1/1 services ready$`, 'm'));
    const json = JSON.parse((await cli('status', ['--format', 'json'])).stdout) as { ready: boolean; stacks: { stack: string }[] };
    expect(json.ready).toBe(true);
    expect(json.stacks.map((s) => s.stack)).toEqual([stack]);
  });

  it('makes no commits with --status-branch none', async () => {
    const before = (await statusBranch()).commits.length;
    await repo.commitFiles({ 'stacks/app.yaml': manifest('3') }, 'release 3');
    expect((await cli('apply', ['--status-branch', 'none'])).code).toBe(0);
    expect((await statusBranch()).commits).toHaveLength(before);
  });

  it('the daemon commits status once and then stays quiet through idle passes', async () => {
    const before = (await statusBranch()).commits.length;
    let logs = '';
    const bin = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
    const port = await freePort();
    daemon = spawn(process.execPath, [bin, 'run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', `127.0.0.1:${port}`, '--router', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
    daemon.stderr?.on('data', (d: Buffer) => (logs += d.toString()));
    type Lanes = { ready: boolean; lanes: { stack: string; outcome: string; passes: number }[] };
    const lanes = async (): Promise<Lanes> => (await (await apiGet(`http://127.0.0.1:${port}`, '/api/status', dataDir)).json()) as Lanes;
    const token = (): string => readFileSync(join(dataDir, 'api.token'), 'utf8').trim();
    await eventually(async () => ((await lanes()).lanes[0]?.outcome === 'converged' ? true : undefined), 30_000, () => logs);
    // Polls find nothing new and wake no lane; each sync through the API is one more (idle) pass of every lane.
    for (let i = 0; i < 4; i++) await fetch(`http://127.0.0.1:${port}/api/sync`, { method: 'POST', headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' }, body: '{}' });
    await eventually(async () => ((await lanes()).lanes[0]?.passes ?? 0) >= 3 ? true : undefined, 30_000, () => logs);
    const exited = new Promise((resolve) => daemon?.once('exit', resolve));
    daemon.kill('SIGTERM');
    await exited;
    const branch = await statusBranch();
    // One commit for release 3 (applied earlier with --status-branch none), none for the idle passes.
    expect(branch.commits).toHaveLength(before + 1);
    expect(branch.commits[0]).toMatch(new RegExp(`status\\(${stack}\\): Ready at [0-9a-f]{7}$`));
    expect(logs).not.toContain('status not written');
  });
});
