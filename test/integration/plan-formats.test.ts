// `capstan plan` for review, through the built CLI against the real engine:
// markdown and JSON of a ref with changes exit 2, of an applied ref exit 0,
// and an invalid ref prints its problems in the chosen format and exits 1.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const instance = uniqueInstance('t-planfmt');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-planfmt-'));
let server: TestGitServer;
let repo: TestRepo;

const manifest = `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
`;
const common = (): string[] => ['--repo', repo.workDir, '--instance', instance, '--data-dir', dataDir];

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('planfmt');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan plan formats', () => {
  it('markdown and json exit 2 with changes, 0 once applied, 1 with the problems of an invalid ref', async () => {
    await repo.write('stacks/app.yaml', manifest);
    const good = await repo.commit('good');

    const md = await capstan(['plan', ...common(), '--format', 'markdown']);
    expect(md.code).toBe(2);
    expect(md.stdout).toContain(`**Capstan plan** for \`${good.slice(0, 7)}\` on instance \`${instance}\`: 1 to create, 1 network/volume changes.`);
    expect(md.stdout).toContain(`| ${stack} | ${stack}-app-1 | create | new service, 1 replica |`);

    const json = await capstan(['plan', ...common(), '--format', 'json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ revision: good, valid: true, changes: 2, errors: [] });

    expect((await capstan(['apply', ...common()])).code).toBe(0);
    const none = await capstan(['plan', ...common(), '--format', 'markdown']);
    expect([none.code, none.stdout]).toEqual([0, `**Capstan plan** for \`${good.slice(0, 7)}\` on instance \`${instance}\`: no changes.\n`]);

    await repo.git('checkout', '--quiet', '-b', 'typo');
    await repo.write('stacks/app.yaml', manifest.replace('    image:', '    imagee:'));
    await repo.commit('typo');
    const badMd = await capstan(['plan', ...common(), '--ref', 'typo', '--format', 'markdown']);
    expect(badMd.code).toBe(1);
    expect(badMd.stdout).toContain('- `stacks/app.yaml:4:5` `services.app.imagee`: unknown key');
    const badJson = await capstan(['plan', ...common(), '--ref', 'typo', '--format', 'json']);
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ valid: false, changes: 0, errors: expect.arrayContaining([expect.objectContaining({ file: 'stacks/app.yaml', line: 4, col: 5, path: 'services.app.imagee', hint: 'did you mean "image"?' })]) });
  });
});
