// The Dockerfile as a user runs it: the image builds (here from the local
// stand-in for node:20-alpine made by scripts/build-node-base.sh, since no
// registry is reachable; test/helpers/image.ts, shared with the router
// container test), prints its version, and `capstan run` inside it, as the
// unprivileged `node` user with the Docker socket mounted, converges the
// engine to a Git repository and stops cleanly on SIGTERM.

import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { capstanImage } from '../helpers/image.js';
import { eventually } from '../helpers/load.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SOCKET = '/var/run/docker.sock';

const instance = uniqueInstance('t-image');
const stack = instance.replace(/-/g, '');
let image: string;
const daemonName = `${stack}-capstan`;
let server: TestGitServer;
let repo: TestRepo;

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

const daemonLogs = (): Promise<string> => exec('docker', ['logs', daemonName]).then((r) => `capstan container logs:\n${r.stdout}${r.stderr}`, (e: Error) => e.message);

beforeAll(async () => {
  image = await capstanImage();
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
}, 600_000);

afterAll(async () => {
  await docker('rm', '-f', '-v', daemonName).catch(() => undefined);
  await cleanupInstance(instance);
  await server?.close();
});

describe('the Capstan image', () => {
  it('prints its version', async () => {
    expect(await docker('run', '--rm', image, 'version')).toBe(`capstan ${pkg.version}`);
  });

  it('runs the daemon as the node user, converges the engine, and stops cleanly on SIGTERM', async () => {
    const sha = await repo.commitFiles(
      {
        'stacks/app.yaml': `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
`,
      },
      'deploy app',
    );
    // Host network: the test's Git server listens on 127.0.0.1 only.
    await docker(
      'run', '-d', '--name', daemonName, '--network', 'host',
      '-v', `${SOCKET}:${SOCKET}`, '--group-add', String(statSync(SOCKET).gid),
      image, 'run', '--repo', repo.url, '--instance', instance, '--interval', '1s', '--listen', '127.0.0.1:0', '--router', 'none',
    );
    expect(await docker('exec', daemonName, 'id', '-u')).toBe('1000');

    const workload = (): Promise<string> =>
      docker('ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}} {{.Label "io.capstan.revision"}}');
    const running = await eventually(async () => ((await workload()) === `${stack}-app-1 ${sha}` ? true : undefined), 60_000, daemonLogs);
    expect(running).toBe(true);

    await docker('stop', '--time', '20', daemonName);
    expect(await docker('inspect', '--format', '{{.State.ExitCode}}', daemonName)).toBe('0');
    // Capstan logs to stderr.
    const { stdout, stderr } = await exec('docker', ['logs', daemonName]);
    expect(stdout + stderr).toContain('"msg":"stopped"');
    // Its data dir is the image's anonymous volume, which the engine cannot bind from by path: said at start.
    expect(stdout + stderr).toContain('and its data dir /var/lib/capstan is not visible to the engine at that path: it lies on the volume mount');
    // Stopping the operator never stops the workload.
    expect(await workload()).toBe(`${stack}-app-1 ${sha}`);
  });
});
