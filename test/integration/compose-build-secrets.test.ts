// Issue 6 against the real engine: a service built from its directory in the
// repository (built once per context, rebuilt when a file of it changes),
// secrets from an age file, the operator's environment and a host file under
// --secrets-dir, and a config
// written into the container with their modes, rotation that rolls the
// service, a service from an included file, and a broken build or a missing
// secret that leaves the running version alone.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const docker = async (...args: string[]): Promise<string> => (await exec('docker', args)).stdout.trim();

const instance = uniqueInstance('t-build');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-build-'));
const keyFile = join(dataDir, '..', `${stack}-age-key.txt`);
// The operator host's own secrets: only files under --secrets-dir may be named by a manifest.
const secretsDir = mkdtempSync(join(tmpdir(), 'capstan-host-secrets-'));
const env = { CAPSTAN_AGE_KEY_FILE: keyFile, APP_TOKEN: 'tok-1' };
let server: TestGitServer;
let repo: TestRepo;

const DOCKERFILE = `FROM ${TEST_IMAGE}
ARG GREETING=hi
COPY . /www
RUN echo "$GREETING" > /www/greeting
CMD ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`;

const compose = `name: ${stack}
include: [lib/worker.yaml]
services:
  web:
    build: { context: ./web, args: { GREETING: hello } }
    secrets:
      - db_password
      - { source: api_token, target: token, uid: "1000", mode: 0400 }
      - host_cert
    configs:
      - { source: app_conf, target: /etc/app.conf }
secrets:
  db_password: { file: ./db_password.age }
  api_token: { environment: APP_TOKEN }
  host_cert: { file: ${secretsDir}/cert.pem }
configs:
  app_conf: { content: "mode=test\\n" }
`;

const worker = `services:
  worker:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
`;

function run(args: string[]) {
  return capstan([...args, '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--allow-env', 'APP_TOKEN', '--secrets-dir', secretsDir, '--log-level', 'warn'], env);
}
const apply = () => run(['apply', '--status-branch', 'none']);

/** Encrypts with the CLI, as a user would, into the work tree. */
async function writeSecret(value: string): Promise<void> {
  const plain = join(dataDir, '..', `${stack}-pw.txt`);
  writeFileSync(plain, value);
  const r = await capstan(['secret', 'encrypt', '-o', join(repo.workDir, 'stacks/app/db_password.age'), plain], { CAPSTAN_AGE_KEY_FILE: keyFile });
  rmSync(plain);
  expect(r.code).toBe(0);
}

const inWeb = (script: string): Promise<string> => docker('exec', `${stack}-web-1`, 'sh', '-c', script);
const containerId = (name: string): Promise<string> => docker('inspect', '--format', '{{.Id}}', name);
const imageOf = (name: string): Promise<string> => docker('inspect', '--format', '{{.Config.Image}} {{.Image}}', name);

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  const keygen = await capstan(['secret', 'keygen', '-o', keyFile]);
  expect(keygen.code).toBe(0);
  expect(keygen.stderr).toMatch(/public key: age1[0-9a-z]+/);
});

afterAll(async () => {
  await cleanupInstance(instance);
  const images = (await docker('images', '--filter', `reference=${stack}-web`, '--format', '{{.Repository}}:{{.Tag}}')).split('\n').filter((l) => l !== '');
  if (images.length > 0) await docker('rmi', ...images);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(keyFile, { force: true });
  rmSync(secretsDir, { recursive: true, force: true });
});

describe('build, secrets, configs and include on the real engine', () => {
  let web: { id: string; image: string };

  it('builds the image from the repository, writes secrets and configs into the container, and runs the included service', async () => {
    await repo.write('stacks/app/compose.yaml', compose);
    await repo.write('stacks/app/lib/worker.yaml', worker);
    await repo.write('stacks/app/web/Dockerfile', DOCKERFILE);
    await repo.write('stacks/app/web/index.html', 'v1\n');
    await repo.write('stacks/app/web/notes.txt', 'not for the image\n');
    await repo.write('stacks/app/web/.dockerignore', 'notes.txt\n');
    await writeSecret('pw-1');
    writeFileSync(join(secretsDir, 'cert.pem'), 'cert-1');
    expect(readFileSync(join(repo.workDir, 'stacks/app/db_password.age'), 'utf8')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    await repo.commit('app');
    await repo.push();

    const result = await apply();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`create ${stack}-web-1: new service, 1 replica, build image ${stack}-web:[0-9a-f]{12}`));
    expect(result.stdout).toContain(`create ${stack}-worker-1: new service`);

    expect(await inWeb('cat /www/greeting /www/index.html; ls /www')).toBe('hello\nv1\nDockerfile\ngreeting\nindex.html');
    expect(await inWeb('cat /run/secrets/db_password; echo; stat -c "%a %u %g" /run/secrets/db_password')).toBe('pw-1\n444 0 0');
    expect(await inWeb('cat /run/secrets/token; echo; stat -c "%a %u" /run/secrets/token')).toBe('tok-1\n400 1000');
    expect(await inWeb('cat /etc/app.conf')).toBe('mode=test');
    expect(await inWeb('cat /run/secrets/host_cert')).toBe('cert-1');
    // The plain text is nowhere in Capstan's data dir, nor in the container's labels.
    expect((await exec('grep', ['-rl', 'pw-1', dataDir]).catch(() => ({ stdout: '' }))).stdout).toBe('');
    expect(await docker('inspect', '--format', '{{json .Config.Labels}}', `${stack}-web-1`)).not.toMatch(/pw-1|tok-1/);
    web = { id: await containerId(`${stack}-web-1`), image: await imageOf(`${stack}-web-1`) };
  });

  it('never builds an unchanged context again', async () => {
    await repo.commitFiles({ 'README.md': 'a change outside the context\n' }, 'docs');
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^No changes/);
    expect(await containerId(`${stack}-web-1`)).toBe(web.id);
    expect(await imageOf(`${stack}-web-1`)).toBe(web.image);
  });

  it('builds a new tag when a file of the context changes, and rolls the service', async () => {
    await repo.commitFiles({ 'stacks/app/web/index.html': 'v2\n' }, 'v2');
    const plan = await run(['plan']);
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(new RegExp(`recreate ${stack}-web-1: build ${stack}-web:[0-9a-f]{12} \\(context changed\\)`));
    const result = await apply();
    expect(result.code).toBe(0);
    const image = await imageOf(`${stack}-web-1`);
    expect(image.split(' ')[0]).not.toBe(web.image.split(' ')[0]);
    expect(image.split(' ')[1]).not.toBe(web.image.split(' ')[1]);
    expect(await containerId(`${stack}-web-1`)).not.toBe(web.id);
    expect(await inWeb('cat /www/index.html')).toBe('v2');
    web = { id: await containerId(`${stack}-web-1`), image };
  });

  it('rolls the service when a secret is rotated, without building again', async () => {
    await writeSecret('pw-2');
    await repo.commit('rotate the database password');
    await repo.push();
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`recreate ${stack}-web-1: secret db_password content changed`);
    expect(await inWeb('cat /run/secrets/db_password')).toBe('pw-2');
    expect(await containerId(`${stack}-web-1`)).not.toBe(web.id);
    expect(await imageOf(`${stack}-web-1`)).toBe(web.image);
    web.id = await containerId(`${stack}-web-1`);
  });

  it('rolls the service when a host secret under --secrets-dir changes, with no commit', async () => {
    writeFileSync(join(secretsDir, 'cert.pem'), 'cert-2');
    const result = await apply();
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`recreate ${stack}-web-1: secret host_cert content changed`);
    expect(await inWeb('cat /run/secrets/host_cert')).toBe('cert-2');
    web.id = await containerId(`${stack}-web-1`);
  });

  it('never starts a replica that was created without its secrets (an operator stopped between create and copy)', async () => {
    // Stand-in for the crash: the same labels and image, created but never started, with no files copied in.
    const labels = JSON.parse(await docker('inspect', '--format', '{{json .Config.Labels}}', `${stack}-web-1`)) as Record<string, string>;
    const [image] = (await imageOf(`${stack}-web-1`)).split(' ');
    await docker('rm', '-f', `${stack}-web-1`);
    await docker('create', '--name', `${stack}-web-1`, ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), image ?? '');
    const first = await apply();
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('was created but never started, so its secrets and configs may be missing; removed it');
    const second = await apply();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(`create ${stack}-web-1: new service, 1 replica`);
    expect(await inWeb('cat /run/secrets/db_password')).toBe('pw-2');
    web.id = await containerId(`${stack}-web-1`);
  });

  it('keeps the running version when the build fails or the secret cannot be decrypted', async () => {
    const worker1 = await containerId(`${stack}-worker-1`);
    await repo.commitFiles({ 'stacks/app/web/Dockerfile': `FROM ${TEST_IMAGE}\nRUN exit 3\n` }, 'broken build');
    const broken = await apply();
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`${stack}/web: building image ${stack}-web:[0-9a-f]{12} failed: The command .*exit 3.* returned a non-zero code: 3`));
    expect(await containerId(`${stack}-web-1`)).toBe(web.id);
    expect(await inWeb('cat /www/index.html')).toBe('v2');
    expect(await containerId(`${stack}-worker-1`)).toBe(worker1);

    await repo.commitFiles({ 'stacks/app/web/Dockerfile': DOCKERFILE, 'stacks/app/web/index.html': 'v3\n' }, 'fixed');
    const noKey = await capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--allow-env', 'APP_TOKEN', '--secrets-dir', secretsDir, '--status-branch', 'none', '--log-level', 'warn'], { APP_TOKEN: 'tok-1' });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('stacks/app/db_password.age: is age-encrypted and no key is configured');
    expect(await containerId(`${stack}-web-1`)).toBe(web.id);
  });

  it('shows a missing secret file the same way in validate, plan and apply, and changes nothing', async () => {
    await repo.remove('stacks/app/db_password.age');
    await repo.commit('lose the secret');
    await repo.push();
    const line = 'stacks/app/compose.yaml:13:24 secrets.db_password.file: secret file "./db_password.age" not found at the commit (looked for stacks/app/db_password.age)';
    const validate = await capstan(['validate', '--repo', repo.url, '--data-dir', dataDir, '--allow-env', 'APP_TOKEN', '--secrets-dir', secretsDir], env);
    const plan = await run(['plan']);
    const applied = await apply();
    for (const r of [validate, plan, applied]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(line);
    }
    expect(await containerId(`${stack}-web-1`)).toBe(web.id);
  });
});
