// A trigger resolves the newest commit once and wakes only the lanes whose
// stack's inputs changed by Git id (issue 11, item 1): the compose file, an
// env file it reads, the repository's capstan.yaml. A commit that touches
// none of them wakes nothing; a broken file holds only the stack that reads it.
// Needs git, no Docker.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { DesiredLoader } from '../../src/reconciler/desired-source.js';
import { loadInline, type LoadFn } from '../../src/reconciler/off-thread.js';
import { Revisions } from '../../src/reconciler/revisions.js';
import { openSource } from '../../src/source/git-source.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

let server: TestGitServer;
let repo: TestRepo;
let dataDir: string;

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('revisions');
  dataDir = await mkdtemp(join(tmpdir(), 'capstan-revisions-'));
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('which lanes a commit wakes', () => {
  it('only the stacks whose inputs changed by Git id', async () => {
    await repo.commitFiles({
      'README.md': 'hello\n',
      'stacks/a.yaml': 'services:\n  web:\n    image: nginx:1\n    env_file: [a.env]\n',
      'stacks/a.env': 'COLOR=blue\n',
      'stacks/b.yaml': 'services:\n  api:\n    image: nginx:1\n',
    });
    const source = openSource({ repo: repo.url, branch: repo.branch, dataDir, credentials: undefined, logger: silentLogger() });
    const woken: string[][] = [];
    // Which stacks each load took from the one before instead of parsing them again.
    const reused: string[][] = [];
    const validate: LoadFn = (files, opts) => {
      reused.push([...(opts.reuse?.values() ?? [])].map((r) => r.name).sort());
      return loadInline(files, opts);
    };
    const revisions = new Revisions({
      source,
      desired: new DesiredLoader({ source, path: 'stacks', env: {}, logger: silentLogger(), validate }),
      onChanged: (stacks) => woken.push([...stacks].sort()),
      onError: (err) => {
        throw err;
      },
      onRecovered: () => undefined,
      logger: silentLogger(),
    });
    const step = async (files: Record<string, string>): Promise<string[] | undefined> => {
      if (Object.keys(files).length > 0) await repo.commitFiles(files);
      woken.length = 0;
      reused.length = 0;
      await revisions.refresh('test');
      return woken[0];
    };

    expect(await step({})).toEqual(['a', 'b']);
    const first = revisions.stack('b')?.revision;
    // Nothing a stack reads: no lane wakes, and each keeps the revision it was changed at.
    expect(await step({ 'README.md': 'hello again\n' })).toBeUndefined();
    expect(reused).toEqual([['a', 'b']]);
    expect(revisions.stack('b')?.revision).toBe(first);
    // An env file is read by a alone: b is not parsed again.
    expect(await step({ 'stacks/a.env': 'COLOR=green\n' })).toEqual(['a']);
    expect(reused).toEqual([['b']]);
    expect(revisions.stack('a')?.desired?.services[0]?.spec.environment).toMatchObject({ COLOR: 'green' });
    expect(revisions.stack('b')?.revision).toBe(first);
    // A .env beside the stack files feeds both, even one that did not exist before.
    expect(await step({ 'stacks/.env': 'UNUSED=1\n' })).toEqual(['a', 'b']);
    expect(reused).toEqual([[]]);
    // The repository's policy is read by every stack.
    expect(await step({ 'capstan.yaml': 'policy:\n  stacks: {}\n' })).toEqual(['a', 'b']);
    expect(reused).toEqual([[]]);
    // A broken file holds the stack that reads it; the other keeps its desired state.
    expect(await step({ 'stacks/b.yaml': 'services:\n  api:\n    image: nginx:1\n    replicas: lots\n' })).toEqual(['b']);
    expect(revisions.stack('b')?.desired).toBeUndefined();
    expect(revisions.stack('b')?.errors.length).toBeGreaterThan(0);
    expect(revisions.stack('a')?.desired).toBeDefined();
    // A stack that leaves Git wakes its lane (to remove it).
    await repo.remove('stacks/b.yaml');
    expect(await step({ 'README.md': 'bye\n' })).toEqual(['b']);
    expect(revisions.stack('b')).toBeUndefined();
  });
});
