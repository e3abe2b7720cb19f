// Rollback by revert (issue 3, item 2) through the real CLI, Git server and
// engine: a `git revert` pushed by a user restores the previous containers,
// `capstan rollback` and `--to` make that commit themselves, auto-revert
// pushes a revert of a failing deploy exactly once, and a status push that
// races another writer is rebuilt on the new tip instead of forced.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { editTree, readCommitInfo } from '../../src/source/commit.js';
import { BranchWriter } from '../../src/source/push.js';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-rollback');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-rollback-'));
let server: TestGitServer;
let repo: TestRepo;

const manifest = (release: string, extra = ''): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
${extra}`;

/** A service whose image exists nowhere (no registry here): creating it fails at once. */
const BROKEN = `  broken:
    image: capstan/no-such-image:0
`;

function cli(command: string, extra: string[] = []) {
  return capstan([command, '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn', ...extra]);
}

/** RELEASE of the running app container, and whether a `broken` container exists. */
async function running(): Promise<{ release: string; services: string[] }> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Label "io.capstan.service"}}']);
  const { stdout: env } = await exec('docker', ['exec', `${stack}-app-1`, 'sh', '-c', 'echo $RELEASE']);
  return { release: env.trim(), services: stdout.split('\n').filter((l) => l !== '').sort() };
}

async function head(): Promise<{ sha: string; message: string; files: string }> {
  await repo.git('fetch', '--quiet', 'origin', repo.branch);
  await repo.git('reset', '--quiet', '--hard', `origin/${repo.branch}`);
  return { sha: await repo.git('rev-parse', 'HEAD'), message: await repo.git('log', '-1', '--format=%B'), files: await repo.git('show', 'HEAD:stacks/app.yaml') };
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('rollback by revert', () => {
  it('restores the previous containers when a user pushes git revert', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'release 1');
    expect((await cli('apply')).code).toBe(0);
    const second = await repo.commitFiles({ 'stacks/app.yaml': manifest('2') }, 'release 2');
    expect((await cli('apply')).code).toBe(0);
    expect((await running()).release).toBe('2');

    await repo.git('revert', '--no-edit', second);
    await repo.push();
    const result = await cli('apply');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`recreate ${stack}-app-1: env changed: RELEASE`);
    expect((await running()).release).toBe('1');
  });

  it('capstan rollback pushes a real revert of the newest change and prints it', async () => {
    const third = await repo.commitFiles({ 'stacks/app.yaml': manifest('3') }, 'release 3');
    // A later commit outside the stacks is not a deploy: rollback looks past it.
    await repo.commitFiles({ 'README.md': '# infra\n' }, 'docs');
    expect((await cli('apply')).code).toBe(0);
    expect((await running()).release).toBe('3');

    const result = await cli('rollback');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const now = await head();
    expect(result.stdout).toBe(`${now.sha} Revert "release 3"\n`);
    expect(now.message).toContain(`This reverts commit ${third}.`);
    expect(now.files).toContain('RELEASE: "1"');
    // Git agrees it is the exact inverse of that commit.
    expect(await repo.git('diff', `${third}^`, 'HEAD', '--', 'stacks')).toBe('');
    expect(await repo.git('show', 'HEAD:README.md')).toBe('# infra');

    expect((await cli('apply')).code).toBe(0);
    expect((await running()).release).toBe('1');
  });

  it('capstan rollback --to restores the stacks as of a commit', async () => {
    const firstSha = (await repo.git('log', '--format=%H', '--grep', '^release 1$')).trim();
    await repo.commitFiles({ 'stacks/app.yaml': manifest('4'), 'stacks/extra.yaml': `name: ${stack}x\nservices: {}\n` }, 'release 4 and an extra stack');
    const result = await cli('rollback', ['--to', firstSha.slice(0, 8)]);
    expect(result.code).toBe(0);
    const now = await head();
    expect(result.stdout).toBe(`${now.sha} Roll back stacks to ${firstSha.slice(0, 7)}\n`);
    expect(await repo.git('diff', firstSha, 'HEAD', '--', 'stacks')).toBe('');
    expect(await repo.git('ls-tree', '--name-only', 'HEAD', 'stacks/')).toBe('stacks/app.yaml');

    const again = await cli('rollback', ['--to', firstSha]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already equals');
  });

  it('auto-reverts a failing deploy once, then converges back to the previous revision', async () => {
    expect((await cli('apply')).code).toBe(0);
    const good = await head();
    const bad = await repo.commitFiles({ 'stacks/app.yaml': manifest('5', BROKEN) }, 'add broken service');

    const failed = await cli('apply', ['--auto-revert']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('cannot pull image capstan/no-such-image:0');
    const reverted = await head();
    expect(reverted.message.split('\n')[0]).toBe('Revert "add broken service"');
    expect(reverted.message).toContain(`Capstan-Auto-Revert: ${bad}`);
    expect(reverted.files).toBe(good.files);

    // Status tells why the stack is where it is.
    await repo.git('fetch', '--quiet', 'origin', 'capstan/status');
    const status = parse(await repo.git('show', `FETCH_HEAD:status/${stack}.yaml`)) as { conditions: { type: string; reason: string; message: string }[] };
    expect(status.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ reason: 'RolledBack' });
    expect(status.conditions.find((c) => c.type === 'Degraded')?.message).toContain(reverted.sha.slice(0, 7));

    const healed = await cli('apply', ['--auto-revert']);
    expect(healed.stderr).toBe('');
    expect(healed.code).toBe(0);
    expect(await running()).toEqual({ release: '1', services: ['app'] });
    expect((await head()).sha).toBe(reverted.sha);
  });

  it('never reverts its own revert', async () => {
    // A revert that itself fails (the engine lost the image the old revision needs) stays: no revert of a revert.
    const before = await head();
    const selfRevert = await repo.commitFiles({ 'stacks/app.yaml': manifest('6', BROKEN) }, 'Revert "something"\n\nCapstan-Auto-Revert: 0123456789012345678901234567890123456789');
    const failed = await cli('apply', ['--auto-revert']);
    expect(failed.code).toBe(1);
    expect((await head()).sha).toBe(selfRevert);
    expect(before.sha).not.toBe(selfRevert);
    // Leave the branch deployable for what follows.
    await repo.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'back to 1');
  });

  it('rebuilds a push on the new tip when another writer moved the branch in between', async () => {
    const writer = await BranchWriter.open({ repo: repo.url, branch: 'race', workGitdir: join(dataDir, 'race.git'), credentials: undefined, depth: 1, logger: silentLogger() });
    const first = await writer.commit(async (tip) => ({ tree: await editTree(writer.store, undefined, new Map([['a.txt', 'a\n']])), message: `first ${String(tip)}` }), { name: 'Capstan', email: 'capstan@localhost' }, () => 0);
    expect(first).toBeDefined();

    let attempts = 0;
    const author = { name: 'Capstan', email: 'capstan@localhost' };
    const second = await writer.commit(
      async (tip) => {
        attempts++;
        if (attempts === 1) {
          // Another writer pushes between our read of the tip and our push.
          await repo.git('fetch', '--quiet', 'origin', 'race');
          await repo.git('checkout', '--quiet', '-B', 'race', 'FETCH_HEAD');
          await repo.write('b.txt', 'b\n');
          await repo.commit('other writer');
          await repo.git('push', '--quiet', 'origin', 'race');
          await repo.git('checkout', '--quiet', repo.branch);
        }
        const base = tip === undefined ? undefined : (await readCommitInfo(writer.store, tip)).tree;
        return { tree: await editTree(writer.store, base, new Map([['c.txt', 'c\n']])), message: 'ours' };
      },
      author,
      () => 0,
    );
    expect(attempts).toBe(2);
    await repo.git('fetch', '--quiet', 'origin', 'race');
    expect(await repo.git('log', '--format=%s', 'FETCH_HEAD')).toBe(`ours\nother writer\nfirst undefined`);
    expect(await repo.git('rev-parse', 'FETCH_HEAD')).toBe(second);
    expect(await repo.git('ls-tree', '--name-only', 'FETCH_HEAD')).toBe('a.txt\nb.txt\nc.txt');
  });
});

describe('capstan rollback on a local-path repository', () => {
  it('writes the revert into the repository itself', async () => {
    const local = await server.createRepo('local');
    await local.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'one');
    const two = await local.commitFiles({ 'stacks/app.yaml': manifest('2') }, 'two');
    const result = await capstan(['rollback', '--repo', local.bareDir, '--log-level', 'warn']);
    expect(result.code).toBe(0);
    const sha = await runGit(local.bareDir, 'rev-parse', 'refs/heads/main');
    expect(result.stdout).toBe(`${sha} Revert "two"\n`);
    expect(await runGit(local.bareDir, 'log', '-1', '--format=%B', sha)).toContain(`This reverts commit ${two}.`);
    expect(await runGit(local.bareDir, 'show', `${sha}:stacks/app.yaml`)).toContain('RELEASE: "1"');
  });

  it('refuses to revert when a later commit changed the same files, and never moves a checked-out branch', async () => {
    const local = await server.createRepo('conflict');
    await local.commitFiles({ 'stacks/app.yaml': manifest('1'), 'README.md': 'one\n' }, 'one');
    await local.commitFiles({ 'stacks/app.yaml': manifest('2'), 'README.md': 'two\n' }, 'two');
    const tip = await local.commitFiles({ 'README.md': 'three\n' }, 'docs');
    const result = await capstan(['rollback', '--repo', local.bareDir, '--log-level', 'warn']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('README.md changed again after');
    expect(await runGit(local.bareDir, 'rev-parse', 'refs/heads/main')).toBe(tip);

    // The work tree has main checked out: like git's receive.denyCurrentBranch, leave it alone.
    const first = await local.git('rev-list', '--max-parents=0', 'HEAD');
    const checkedOut = await capstan(['rollback', '--repo', local.workDir, '--to', first, '--log-level', 'warn']);
    expect(checkedOut.code).toBe(1);
    expect(checkedOut.stderr).toContain('main is checked out');
    expect(await local.git('rev-parse', 'HEAD')).toBe(tip);
  });
});
