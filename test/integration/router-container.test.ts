// `capstan run --router container` as a user runs it: the daemon runs the
// router from Capstan's own image (host network, <data-dir>/router
// bind-mounted), pushes the table over the shared admin socket, and traffic
// round-robins over 3 replicas on the HTTP entry and the published port. The
// container is no replica (a plan leaves it alone), keeps serving through
// kill -9 of the operator (a new operator reuses it), comes back with the
// persisted table when it is removed, and is replaced when the image changes.

import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan, spawnCapstan } from '../helpers/cli.js';
import { cleanupInstance, routedReplicasManifest, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { capstanImage } from '../helpers/image.js';
import { connectionSpread, eventually, requestSpread, underLoad } from '../helpers/load.js';
import { freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-rcont');
const stack = instance.replace(/-/g, '');
const routerName = `capstan-router-${instance}`;
// Another image id than the built one, made in a second: the "new version" of Capstan.
const nextImage = `capstan/capstan:${instance}-next`;
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-rcont-'));
let image: string;
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let l4Port: number;
let logs = '';
const daemons: ChildProcess[] = [];

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

const explain = async (): Promise<string> => {
  const routerLogs = await exec('docker', ['logs', '--tail', '20', routerName]).then((r) => r.stdout + r.stderr, (e: Error) => e.message);
  return `daemon logs:\n${logs}\nrouter container logs:\n${routerLogs}`;
};

function startDaemon(routerImage: string): ChildProcess {
  const d = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0',
    '--http-port', String(httpPort), '--router', 'container', '--router-image', routerImage, '--status-branch', 'none'], (text) => (logs += text));
  daemons.push(d);
  return d;
}

function stopped(d: ChildProcess): Promise<void> {
  return d.exitCode !== null || d.signalCode !== null ? Promise.resolve() : new Promise((resolve) => d.once('exit', () => resolve()));
}

/** Id of the router container and of the image it runs. */
async function routerContainer(): Promise<{ id: string; imageId: string }> {
  const [id = '', imageId = ''] = (await docker('inspect', '--format', '{{.Id}} {{.Image}}', routerName)).split(' ');
  return { id, imageId };
}

beforeAll(async () => {
  image = await capstanImage();
  execFileSync('docker', ['build', '-q', '-t', nextImage, '-'], { input: `FROM ${image}\nLABEL local.test.next=${instance}\n`, env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'ignore', 'pipe'] });
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  l4Port = await freePort();
}, 600_000);

afterAll(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  // The router container carries the instance label: this removes it with the replicas.
  await cleanupInstance(instance);
  await docker('image', 'rm', nextImage).catch(() => undefined);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('capstan run --router container', () => {
  it('refuses to start without the router image and says how to build it', async () => {
    const r = await capstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--router', 'container', '--router-image', `capstan/missing:${instance}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the router image capstan/missing:${instance} is not on the engine`);
    expect(r.stderr).toContain(`docker build -t capstan/missing:${instance} .`);
  });

  it('routes through a container of Capstan\'s image that outlives the operator and follows the image', async () => {
    await repo.commitFiles({ 'stacks/web.yaml': routedReplicasManifest(stack, l4Port) }, 'three replicas behind the router container');
    const first = startDaemon(image);
    const spread = await requestSpread(httpPort, 30, 3, 60_000, explain);
    expect(Object.values(spread)).toEqual([10, 10, 10]);
    const l4 = await connectionSpread(l4Port, 30);
    expect(Object.keys(l4).sort()).toEqual(Object.keys(spread).sort());

    const inspected = JSON.parse(await docker('inspect', routerName)) as [{ Config: { User: string; Labels: Record<string, string> }; HostConfig: { NetworkMode: string; RestartPolicy: { Name: string } }; Mounts: { Source: string; Destination: string }[] }];
    const c = inspected[0];
    expect(c.HostConfig.NetworkMode).toBe('host');
    expect(c.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
    expect(c.Config.Labels).toMatchObject({ 'io.capstan.instance': instance, 'io.capstan.role': 'router' });
    // The operator's uid: both sides can use the admin socket and table.json in the mounted directory.
    expect(c.Config.User).toBe(`${process.getuid!()}:${process.getgid!()}`);
    expect(c.Mounts).toEqual([expect.objectContaining({ Source: join(dataDir, 'router'), Destination: '/var/lib/capstan/router' })]);
    // Capstan-owned but no replica: a plan of the same commit has nothing to remove.
    const plan = await capstan(['plan', '--repo', repo.url, '--instance', instance, '--data-dir', join(dataDir, 'plan')]);
    expect(plan.stdout).not.toContain(routerName);
    expect(plan.code).toBe(0);

    // kill -9 of the operator under load: the router container serves on, and the next operator takes it over.
    const before = await routerContainer();
    let second: ChildProcess | undefined;
    const result = await underLoad(l4Port, async () => {
      first.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      second = startDaemon(image);
      await eventually(async () => (logs.includes('reusing the router container already serving') ? true : undefined), 20_000, explain);
    });
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(0);
    expect(await routerContainer()).toEqual(before);

    // Removed behind the operator's back: a new container serves the persisted table again.
    await docker('rm', '-f', routerName);
    await eventually(async () => ((await request(l4Port)).status === 200 ? true : undefined), 30_000, explain);
    expect(logs).toContain('router container created');
    const recreated = await routerContainer();
    expect(recreated.id).not.toBe(before.id);

    // A new image of Capstan: the next operator replaces the router, which serves the same table.
    second?.kill('SIGTERM');
    if (second !== undefined) await stopped(second);
    startDaemon(nextImage);
    await eventually(async () => (logs.includes('router container replaced: image') ? true : undefined), 30_000, explain);
    await eventually(async () => ((await request(l4Port)).status === 200 ? true : undefined), 30_000, explain);
    const next = await routerContainer();
    expect(next.imageId).toBe(await docker('image', 'inspect', '--format', '{{.Id}}', nextImage));
    expect(next.id).not.toBe(recreated.id);
  });
});
