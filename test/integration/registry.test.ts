// Images from a real private registry (issue 9, items 1–4): Debian's
// docker-registry on 127.0.0.1 with htpasswd auth, images built from the
// local busybox base under this test's own repository names, pushed, and
// absent from the engine when Capstan runs. Through the real CLI, a real Git
// server and the real engine: the first deploy pulls with the Docker
// client's credentials (a config.json, then a credential helper), records
// the repo digest; a missing image and a wrong password fail that service
// alone, clearly, with the running version kept and the secret nowhere; a
// moved tag under pull_policy always rolls the service.

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan, type CliResult } from '../helpers/cli.js';
import { cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { docker, removeLocalTags, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-registry');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-registry-'));
const cloneDir = mkdtempSync(join(tmpdir(), 'capstan-registry-clone-'));
const helperDir = mkdtempSync(join(tmpdir(), 'capstan-registry-helper-'));
let server: TestGitServer;
let repo: TestRepo;
let registry: TestRegistry;
let digest1: string;

const image = (name: string, tag: string): string => `${registry.host}/${instance}/${name}:${tag}`;

/** From the second test on, a third service pulls its image through a credential helper. */
let helped = '';
const manifest = (app: string, extra = ''): string => `name: ${stack}
services:
  app:
    image: ${app}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    deploy: { replicas: 2, update_config: { monitor: 0s } }${extra}
  worker:
    image: ${image('app', '1.0')}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
${helped}`;

function cli(command: string, env: Record<string, string>): Promise<CliResult> {
  return capstan([command, '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'info'], env);
}

async function containers(): Promise<{ name: string; id: string; digest: string }[]> {
  const out = await docker(['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}} {{.ID}} {{.Label "io.capstan.image-digest"}}']);
  return out.split('\n').filter((l) => l !== '').map((l) => {
    const [name = '', id = '', digest = ''] = l.split(' ');
    return { name, id, digest };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

async function statusFile(): Promise<Record<string, unknown>> {
  await runGit(cloneDir, 'fetch', '--quiet', repo.url, '+refs/heads/capstan/status:refs/remotes/status');
  return parse(await runGit(cloneDir, 'show', `refs/remotes/status:status/${stack}.yaml`)) as Record<string, unknown>;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  await exec('bash', [join(import.meta.dirname, '../../scripts/ensure-registry.sh')]);
  [server, registry] = await Promise.all([startTestGitServer(), startTestRegistry()]);
  repo = await server.createRepo('infra');
  await runGit(cloneDir, 'init', '--quiet', '--bare');
  digest1 = await registry.pushNew(`${instance}/app`, '1.0', { bytes: 200_000 });
  await registry.pushNew(`${instance}/helped`, '1.0');
  await registry.pushNew(`${instance}/app`, '1.1');
}, 180_000);

afterAll(async () => {
  await cleanupInstance(instance);
  if (registry !== undefined) await removeLocalTags(registry.host, instance);
  await registry?.close();
  await server?.close();
  for (const dir of [dataDir, cloneDir, helperDir]) rmSync(dir, { recursive: true, force: true });
});

describe('images from a private registry', () => {
  it('pulls what the engine lacks before creating, once for two services, and records the repo digest', async () => {
    const env = { DOCKER_CONFIG: registry.dockerConfig };
    await repo.commitFiles({ 'stacks/app.yaml': manifest(image('app', '1.0')) }, 'deploy app');
    const plan = await cli('plan', env);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`pull image ${image('app', '1.0')}: not on the engine (for ${stack}/app, ${stack}/worker)`);
    expect(plan.stdout).toContain('1 image to pull, 3 to create');

    const result = await cli('apply', env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`pulled image ${image('app', '1.0')} (${digest1})`);
    expect(await containers()).toEqual([
      expect.objectContaining({ name: `${stack}-app-1`, digest: digest1 }),
      expect.objectContaining({ name: `${stack}-app-2`, digest: digest1 }),
      expect.objectContaining({ name: `${stack}-worker-1`, digest: digest1 }),
    ]);
    const status = await statusFile();
    expect(status['services']).toMatchObject({ app: { image: `${image('app', '1.0')}@${digest1}` }, worker: { image: `${image('app', '1.0')}@${digest1}` } });
    expect((await cli('plan', env)).code).toBe(0);
  });

  it('asks a credential helper (credHelpers) the way Docker does', async () => {
    const helper = join(helperDir, 'docker-credential-capstantest');
    // Records what it was asked for, and answers like docker-credential-pass would.
    writeFileSync(helper, `#!/bin/sh
[ "$1" = get ] || exit 1
read -r server
echo "$server" > ${join(helperDir, 'asked')}
printf '{"ServerURL":"%s","Username":"${registry.username}","Secret":"${registry.password}"}' "$server"
`);
    chmodSync(helper, 0o755);
    const config = join(helperDir, 'config');
    await exec('mkdir', ['-p', config]);
    writeFileSync(join(config, 'config.json'), JSON.stringify({ credHelpers: { [registry.host]: 'capstantest' } }));
    helped = `  helped:
    image: ${image('helped', '1.0')}
    command: ["sleep", "3600"]
`;
    await repo.commitFiles({ 'stacks/app.yaml': manifest(image('app', '1.0')) }, 'add a service');
    const result = await cli('apply', { DOCKER_CONFIG: config, PATH: `${helperDir}:${process.env['PATH'] ?? ''}` });
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(join(helperDir, 'asked'), 'utf8').trim()).toBe(registry.host);
    expect((await containers()).map((c) => c.name)).toContain(`${stack}-helped-1`);
  });

  it('a missing image or a wrong password fails that service alone, keeps what runs, and never shows the secret', async () => {
    const before = await containers();
    const good = { DOCKER_CONFIG: registry.dockerConfig };

    await repo.commitFiles({ 'stacks/app.yaml': manifest(image('app', '9.9')) }, 'a tag nobody pushed');
    const missing = await cli('apply', good);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`${stack}/app: cannot pull image ${image('app', '9.9')} from ${registry.host}: `);
    expect(missing.stderr).toMatch(/not found|manifest unknown/);
    expect(missing.stderr).toContain('E_IMAGE_PULL');
    // The rolling update never began: no twin was made for a replica whose new image is not there.
    expect(missing.stderr).not.toContain(`${stack}-app-1-next`);
    expect(missing.stderr).not.toMatch(/rolling update of \S+: \d+ replica/);
    expect(await containers()).toEqual(before);
    const status = await statusFile();
    expect(status['conditions']).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'Degraded', status: 'True', reason: 'ImagePullFailed' })]));

    const wrongSecret = `wrong-${registry.password}-x`;
    const wrong = join(helperDir, 'wrong');
    await exec('mkdir', ['-p', wrong]);
    writeFileSync(join(wrong, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${wrongSecret}`).toString('base64') } } }));
    await repo.commitFiles({ 'stacks/app.yaml': manifest(image('app', '1.1')) }, 'a tag on the engine nowhere yet');
    const denied = await cli('apply', { DOCKER_CONFIG: wrong });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`${stack}/app: cannot pull image ${image('app', '1.1')} from ${registry.host}: `);
    expect(denied.stderr).toMatch(/unauthorized|authentication required/);
    expect(await containers()).toEqual(before);

    // Neither password anywhere Capstan writes: its output, the status branch, the labels, the data dir.
    const statusText = JSON.stringify(await statusFile());
    const labels = await docker(['inspect', '--format', '{{json .Config.Labels}}', ...before.map((c) => c.id)]);
    const dataFiles = filesUnder(dataDir).filter((f) => statSync(f).size < 5_000_000).map((f) => readFileSync(f).toString('latin1'));
    for (const secret of [wrongSecret, registry.password]) {
      for (const text of [missing.stdout, missing.stderr, denied.stdout, denied.stderr, statusText, labels, ...dataFiles]) expect(text.includes(secret)).toBe(false);
    }
  });

  it('pull_policy: always rolls the service when its tag moves in the registry', async () => {
    const env = { DOCKER_CONFIG: registry.dockerConfig };
    await repo.commitFiles({ 'stacks/app.yaml': manifest(image('app', '1.0'), '\n    pull_policy: always') }, 'follow the tag');
    const settled = await cli('apply', env);
    expect(settled.code, settled.stderr).toBe(0);
    expect((await cli('plan', env)).code).toBe(0);

    const digest2 = await registry.pushNew(`${instance}/app`, '1.0');
    const plan = await cli('plan', env);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain(`pull image ${image('app', '1.0')}: tag moved: ${digest1.slice(0, 19)}… → ${digest2.slice(0, 19)}…`);
    expect(plan.stdout).toContain(`recreate ${stack}-app-1: image ${image('app', '1.0')} moved: ${digest1.slice(0, 19)}… → ${digest2.slice(0, 19)}…`);

    const rolled = await cli('apply', env);
    expect(rolled.code, rolled.stderr).toBe(0);
    const now = await containers();
    // The worker names the same tag: it runs what the tag names now too.
    expect(now.filter((c) => c.name.includes('-app-') || c.name.includes('-worker-')).map((c) => c.digest)).toEqual([digest2, digest2, digest2]);
    expect((await cli('plan', env)).code).toBe(0);
  });
});
