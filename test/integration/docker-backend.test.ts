// The docker backend against the real engine: what it creates shows up in
// the label snapshot, recreate keeps the slot's name, and a name held by a
// foreign container is reported — never resolved by deleting it. Everything
// this file makes carries its own instance label and is removed afterwards.

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, DeployContext } from '../../src/backends/backend.js';
import { resolveEndpoint } from '../../src/backends/docker/connect.js';
import { createDockerBackend } from '../../src/backends/docker/docker-backend.js';
import { LABEL } from '../../src/desired/labels.js';
import type { DesiredService } from '../../src/desired/model.js';
import { DockerUnavailableError, NameConflictError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { NetworkSpec, ServiceSpec, VolumeSpec } from '../../src/manifests/model.js';
import { TEST_IMAGE, cleanupInstance, instanceContainers, uniqueInstance } from '../helpers/docker.js';
import { desiredService } from '../helpers/specs.js';

const exec = promisify(execFile);
async function docker(...args: string[]): Promise<string> {
  return (await exec('docker', args)).stdout.trim();
}

const instance = uniqueInstance('t-backend');
// Container names never carry the instance, so the stack must be unique too.
const stack = instance;
const checkoutDir = mkdtempSync(join(tmpdir(), 'capstan-backend-'));
const ctx: DeployContext = { instance, revision: 'a'.repeat(40), checkoutDir, bindsDir: join(checkoutDir, 'binds'), publishPorts: true };
const foreignIds: string[] = [];

const defaultNet: NetworkSpec = { name: 'default', engineName: `${stack}_default`, external: false, driver: undefined, labels: {} };
const backNet: NetworkSpec = { name: 'back', engineName: `${stack}_back`, external: false, driver: undefined, labels: {} };
const dataVol: VolumeSpec = { name: 'data', engineName: `${stack}_data`, external: false, driver: undefined, labels: {} };

// Exits on SIGTERM at once, so removals do not wait out the grace period.
const IDLE = ['sh', '-c', "trap 'exit 0' TERM; while true; do sleep 0.2; done"];

function service(name: string, overrides: Partial<ServiceSpec> = {}): DesiredService {
  return desiredService(stack, name, { image: TEST_IMAGE, command: IDLE, environment: { RELEASE: '1' }, stopGracePeriodMs: 5000, ...overrides });
}

let backend: Backend;

beforeAll(async () => {
  await exec('bash', ['scripts/build-images.sh']);
  backend = await createDockerBackend({ logger: silentLogger() });
  await backend.ping();
});

afterAll(async () => {
  for (const id of foreignIds) await docker('rm', '-f', id).catch(() => undefined);
  await cleanupInstance(instance);
  rmSync(checkoutDir, { recursive: true, force: true });
  expect(await instanceContainers(instance)).toEqual([]);
});

describe('docker backend', () => {
  it('creates networks and volumes idempotently, labelled as ours', async () => {
    await backend.createNetwork(stack, defaultNet, ctx);
    await backend.createNetwork(stack, defaultNet, ctx);
    await backend.createNetwork(stack, backNet, ctx);
    await backend.createVolume(stack, dataVol, ctx);
    await backend.createVolume(stack, dataVol, ctx);

    const observed = await backend.observe(instance);
    expect(observed.networks.map((n) => n.name)).toEqual([`${stack}_back`, `${stack}_default`]);
    expect(observed.networks[1]?.labels).toMatchObject({ [LABEL.composeProject]: stack, [LABEL.composeNetwork]: 'default', [LABEL.stack]: stack });
    expect(observed.volumes).toEqual([{ name: `${stack}_data`, stack, labels: expect.objectContaining({ [LABEL.composeVolume]: 'data' }) }]);
  });

  it('creates and starts a replica that the snapshot shows with its labels', async () => {
    const app = service('app', {
      networks: ['default', 'back'],
      volumes: [
        { type: 'volume', source: 'data', target: '/data', readOnly: false, relative: false },
        { type: 'bind', source: 'site/www', target: '/www', readOnly: true, relative: true, persistent: true },
      ],
      healthcheck: { test: ['CMD', 'true'], intervalMs: 500, timeoutMs: 2000, retries: 3, startPeriodMs: undefined, startIntervalMs: undefined },
    });
    const id = await backend.createContainer(app, 1, ctx);
    // A data directory is created on first use, below the binds directory, per stack.
    expect(existsSync(join(checkoutDir, 'binds', stack, 'site/www'))).toBe(true);

    const observed = await backend.observe(instance);
    expect(observed.containers).toHaveLength(1);
    expect(observed.containers[0]).toMatchObject({
      id,
      name: `${stack}-app-1`,
      stack,
      service: 'app',
      number: 1,
      specHash: app.specHash,
      revision: ctx.revision,
      state: 'running',
    });
    expect(observed.containers[0]?.labels).toMatchObject({ [LABEL.composeConfigHash]: app.specHash, [LABEL.slot]: 'stable', 'com.docker.compose.oneoff': 'False' });

    // Attached to both stack networks, reachable by its service name.
    const nets = JSON.parse(await docker('inspect', '--format', '{{json .NetworkSettings.Networks}}', id)) as Record<string, { Aliases: string[] | null }>;
    expect(Object.keys(nets).sort()).toEqual([`${stack}_back`, `${stack}_default`]);
    expect(nets[`${stack}_back`]?.Aliases).toEqual(expect.arrayContaining(['app', `${stack}-app-1`]));
    await docker('exec', id, 'ping', '-c', '1', '-W', '2', 'app');

    // Health comes from the list call's status text.
    let health: string | undefined;
    for (let i = 0; i < 40 && health !== 'healthy'; i++) {
      health = (await backend.observe(instance)).containers[0]?.health;
      if (health !== 'healthy') await new Promise((r) => setTimeout(r, 250));
    }
    expect(health).toBe('healthy');
  });

  it('runs a start-first twin beside a replica, then promotes it to the replica\'s name', async () => {
    const before = (await backend.observe(instance)).containers.find((c) => c.service === 'app');
    expect(before).toBeDefined();
    const next = service('app', { environment: { RELEASE: '2' }, volumes: [{ type: 'volume', source: 'data', target: '/data', readOnly: false, relative: false }] });
    const twin = await backend.createContainer(next, 1, ctx, `${stack}-app-1-next`);
    expect(twin).not.toBe(before?.id);
    const both = await backend.observe(instance);
    expect(both.containers.map((c) => [c.name, c.number, c.state])).toEqual([[`${stack}-app-1`, 1, 'running'], [`${stack}-app-1-next`, 1, 'running']]);
    const seen = await backend.inspectReplica(twin);
    expect(seen).toMatchObject({ state: 'running', exitCode: 0 });
    expect(seen?.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    await backend.removeContainer(before?.id ?? '');
    await backend.renameContainer(twin, `${stack}-app-1`);
    await backend.renameContainer(twin, `${stack}-app-1`); // done already (a pass that crashed after it): fine
    const after = await backend.observe(instance);
    expect(after.containers.map((c) => [c.id, c.name, c.specHash, c.state])).toEqual([[twin, `${stack}-app-1`, next.specHash, 'running']]);
    expect(await docker('exec', twin, 'sh', '-c', 'echo $RELEASE')).toBe('2');
    expect(await backend.inspectReplica(before?.id ?? '')).toBeUndefined();
  });

  it('removes a replica but keeps its volume', async () => {
    const current = (await backend.observe(instance)).containers[0];
    await backend.removeContainer(current?.id ?? '');
    await backend.removeContainer(current?.id ?? ''); // already gone: fine
    const observed = await backend.observe(instance);
    expect(observed.containers).toEqual([]);
    expect(observed.volumes.map((v) => v.name)).toEqual([`${stack}_data`]);
  });

  it('reports a name held by a foreign container and leaves that container running', async () => {
    const name = `${stack}-app-1`;
    const foreign = await docker('run', '-d', '--name', name, TEST_IMAGE, ...IDLE);
    foreignIds.push(foreign);

    const err = await backend.createContainer(service('app'), 1, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NameConflictError);
    expect((err as NameConflictError).data).toMatchObject({ name, holderId: foreign });
    expect(await docker('inspect', '--format', '{{.State.Running}}', foreign)).toBe('true');
    expect((await backend.observe(instance)).containers).toEqual([]);

    await docker('rm', '-f', foreign);
  });

  it('replaces a leftover container of this very service that holds the slot', async () => {
    const name = `${stack}-app-1`;
    const stale = await docker('create', '--name', name, '--label', `${LABEL.instance}=${instance}`, '--label', `${LABEL.stack}=${stack}`, '--label', `${LABEL.service}=app`, TEST_IMAGE, 'true');
    const app = service('app');
    const id = await backend.createContainer(app, 1, ctx);
    expect(id).not.toBe(stale);
    const observed = await backend.observe(instance);
    expect(observed.containers.map((c) => [c.id, c.specHash])).toEqual([[id, app.specHash]]);
    await backend.removeContainer(id);
  });

  it("never removes a container of this instance whose labels name another stack or service, and says whose it is", async () => {
    const name = `${stack}-app-1`;
    const holder = await docker('run', '-d', '--name', name, '--label', `${LABEL.instance}=${instance}`, '--label', `${LABEL.stack}=${stack}-app`, '--label', `${LABEL.service}=1`, TEST_IMAGE, ...IDLE);
    try {
      const err = await backend.createContainer(service('app'), 1, ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NameConflictError);
      expect((err as NameConflictError).message).toBe(`container name ${name} is taken by ${holder.slice(0, 12)}, which belongs to Capstan instance ${instance}, stack ${stack}-app, service 1`);
      expect(await docker('inspect', '--format', '{{.State.Running}}', holder)).toBe('true');
    } finally {
      await docker('rm', '-f', holder);
    }
  });

  it('applies container settings (name, hostname, capabilities, limits, tmpfs, hosts) that docker inspect shows', async () => {
    await backend.createNetwork(stack, defaultNet, ctx);
    const tuned = service('tuned', {
      containerName: `${stack}-custom`,
      hostname: 'tuned-host',
      capDrop: ['NET_RAW'],
      sysctls: { 'net.core.somaxconn': '511' },
      ulimits: { nofile: { soft: 1000, hard: 2000 } },
      tmpfs: { '/scratch': 'size=1m' },
      readOnly: true,
      shmSizeBytes: 8 * 1024 * 1024,
      extraHosts: ['gateway.test:127.0.0.9'],
      securityOpt: ['no-new-privileges:true'],
      networkAliases: { default: ['tuned-alias'] },
    });
    const id = await backend.createContainer(tuned, 1, ctx);
    try {
      const info = JSON.parse(await docker('inspect', id)) as [
        { Name: string; Config: { Hostname: string }; HostConfig: Record<string, unknown>; NetworkSettings: { Networks: Record<string, { Aliases: string[] | null }> } },
      ];
      const c = info[0];
      expect(c.Name).toBe(`/${stack}-custom`);
      expect(c.Config.Hostname).toBe('tuned-host');
      expect(c.HostConfig).toMatchObject({
        CapDrop: ['NET_RAW'],
        Sysctls: { 'net.core.somaxconn': '511' },
        Ulimits: [{ Name: 'nofile', Soft: 1000, Hard: 2000 }],
        Tmpfs: { '/scratch': 'size=1m' },
        ReadonlyRootfs: true,
        ShmSize: 8 * 1024 * 1024,
        ExtraHosts: ['gateway.test:127.0.0.9'],
        SecurityOpt: ['no-new-privileges:true'],
      });
      expect(c.NetworkSettings.Networks[`${stack}_default`]?.Aliases).toEqual(expect.arrayContaining(['tuned', 'tuned-alias']));
      // What the process inside sees: the read-only root, the writable tmpfs, the limits and the extra host.
      expect(await docker('exec', id, 'sh', '-c', 'ulimit -Sn; cat /proc/sys/net/core/somaxconn; grep gateway.test /etc/hosts; touch /scratch/ok && echo tmpfs-ok; touch /rootfile 2>/dev/null || echo ro-ok')).toBe(
        '1000\n511\n127.0.0.9\tgateway.test\ntmpfs-ok\nro-ok',
      );
    } finally {
      await backend.removeContainer(id);
    }
  });

  it('creates an internal network and a volume with the manifest labels next to its own', async () => {
    const isolated: NetworkSpec = { name: 'isolated', engineName: `${stack}_isolated`, external: false, driver: undefined, labels: { team: 'data' }, internal: true };
    const tagged: VolumeSpec = { name: 'tagged', engineName: `${stack}_tagged`, external: false, driver: undefined, labels: { backup: 'daily' } };
    await backend.createNetwork(stack, isolated, ctx);
    await backend.createVolume(stack, tagged, ctx);
    const net = JSON.parse(await docker('network', 'inspect', '--format', '{{json .}}', isolated.engineName)) as { Internal: boolean; Labels: Record<string, string> };
    expect(net.Internal).toBe(true);
    expect(net.Labels).toMatchObject({ team: 'data', [LABEL.instance]: instance });
    const vol = JSON.parse(await docker('volume', 'inspect', '--format', '{{json .Labels}}', tagged.engineName)) as Record<string, string>;
    expect(vol).toMatchObject({ backup: 'daily', [LABEL.instance]: instance });
  });

  it('never adopts a foreign network of the same name', async () => {
    const foreignNet: NetworkSpec = { name: 'other', engineName: `${stack}_other`, external: false, driver: undefined, labels: {} };
    const netId = await docker('network', 'create', foreignNet.engineName);
    try {
      await expect(backend.createNetwork(stack, foreignNet, ctx)).rejects.toThrow(`network ${foreignNet.engineName} exists and belongs to no Capstan instance (it was made by hand or another tool), not to this instance`);
      expect(await docker('network', 'inspect', '--format', '{{.Id}}', netId)).toBe(netId);
    } finally {
      await docker('network', 'rm', netId);
    }
  });

  it('removes its networks', async () => {
    for (const net of (await backend.observe(instance)).networks) await backend.removeNetwork(net.id);
    expect((await backend.observe(instance)).networks).toEqual([]);
  });

  it('reports an engine that does not answer as unavailable', async () => {
    const nowhere = await createDockerBackend({ logger: silentLogger(), endpoint: resolveEndpoint({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' }) });
    const err = await nowhere.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerUnavailableError);
    expect((err as DockerUnavailableError).data).toEqual({ endpoint: 'unix:///nonexistent/docker.sock' });
    await expect(nowhere.observe(instance)).rejects.toBeInstanceOf(DockerUnavailableError);
  });
});
