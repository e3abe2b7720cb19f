// The snapshot maps the engine's three list answers to ObservedState, asks
// only with the instance's label filter, and keeps nothing unlabelled.

import type { ContainerInfo, NetworkInspectInfo, VolumeInspectInfo } from 'dockerode';
import { describe, expect, it } from 'vitest';
import { parseHealth, takeSnapshot, type SnapshotClient } from '../../src/observed/snapshot.js';
import { specHash } from '../../src/desired/spec-hash.js';
import { encodeSpecLabel } from '../../src/desired/spec-label.js';
import { serviceSpec } from '../helpers/specs.js';

function container(name: string, labels: Record<string, string>, state = 'running', status = 'Up 3 seconds'): ContainerInfo {
  return {
    Id: `${name}-id`,
    Names: [`/${name}`],
    Image: 'capstan/busybox:latest',
    ImageID: 'sha256:x',
    Command: 'sh',
    Created: 0,
    Ports: [],
    Labels: labels,
    State: state,
    Status: status,
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

const OURS = {
  'io.capstan.instance': 'prod',
  'io.capstan.stack': 'web',
  'io.capstan.service': 'api',
  'io.capstan.spec-hash': 'abc',
  'io.capstan.revision': 'f'.repeat(40),
  'com.docker.compose.container-number': '2',
};

function fakeClient(containers: ContainerInfo[], networks: Partial<NetworkInspectInfo>[], volumes: Partial<VolumeInspectInfo>[] | null): { client: SnapshotClient; calls: unknown[] } {
  const calls: unknown[] = [];
  const client = {
    listContainers: async (opts: unknown) => (calls.push(['containers', opts]), containers),
    listNetworks: async (opts: unknown) => (calls.push(['networks', opts]), networks),
    listVolumes: async (opts: unknown) => (calls.push(['volumes', opts]), { Volumes: volumes, Warnings: [] }),
    getContainer: (id: string) => ({
      inspect: async () => (calls.push(['inspect', id]), { State: { StartedAt: '2026-11-25T10:00:00Z', FinishedAt: '2026-11-25T10:00:02.5Z', ExitCode: 3, OOMKilled: false } }),
    }),
  } as unknown as SnapshotClient;
  return { client, calls };
}

describe('takeSnapshot', () => {
  it('filters by the instance label and maps containers, networks and volumes', async () => {
    const { client, calls } = fakeClient(
      [
        container('web-api-2', OURS, 'running', 'Up 5 minutes (healthy)'),
        container('web-api-1', { ...OURS, 'com.docker.compose.container-number': '1' }, 'exited', 'Exited (0) 2 seconds ago'),
        container('stranger', { 'io.capstan.instance': 'other' }),
        // Capstan's own router container: owned, but no stack's replica (the planner would prune it).
        container('capstan-router-prod', { 'io.capstan.instance': 'prod', 'io.capstan.role': 'router' }),
      ],
      [{ Id: 'n1', Name: 'web_default', Labels: { 'io.capstan.instance': 'prod', 'io.capstan.stack': 'web' } }],
      [{ Name: 'web_data', Labels: { 'io.capstan.instance': 'prod', 'com.docker.compose.project': 'web' } }],
    );
    const state = await takeSnapshot(client, 'prod');
    const filters = { label: ['io.capstan.instance=prod'] };
    expect(calls).toEqual([
      ['containers', { all: true, filters }],
      ['networks', { filters }],
      ['volumes', { filters }],
      // Only the container that is not running is inspected (its last run feeds crash-loop backoff).
      ['inspect', 'web-api-1-id'],
    ]);
    expect(state.containers[0]?.lastRun).toEqual({ startedAt: Date.parse('2026-11-25T10:00:00Z'), finishedAt: Date.parse('2026-11-25T10:00:02.5Z'), exitCode: 3, oomKilled: false });
    expect(state.containers[1]?.lastRun).toBeUndefined();
    expect(state.instance).toBe('prod');
    expect(state.containers.map((c) => [c.name, c.number, c.state, c.health])).toEqual([
      ['web-api-1', 1, 'exited', undefined],
      ['web-api-2', 2, 'running', 'healthy'],
    ]);
    expect(state.containers[1]).toMatchObject({ id: 'web-api-2-id', stack: 'web', service: 'api', specHash: 'abc', revision: 'f'.repeat(40) });
    expect(state.networks).toEqual([{ id: 'n1', name: 'web_default', stack: 'web', labels: { 'io.capstan.instance': 'prod', 'io.capstan.stack': 'web' } }]);
    expect(state.volumes.map((v) => [v.name, v.stack])).toEqual([['web_data', 'web']]);
  });

  it('reads each container\'s spec hash from its spec label as this version hashes it, not the hash label of the version that made it', async () => {
    const spec = serviceSpec({ capstan: { strategy: 'rolling', progressDeadlineMs: 1000, probe: undefined, routes: [{ host: 'x.test', pathPrefix: '/', port: 80, sticky: false }] } });
    const { client } = fakeClient([container('web-api-2', { ...OURS, 'io.capstan.spec-hash': 'hash-from-an-older-version', 'io.capstan.spec': encodeSpecLabel(spec) })], [], []);
    const snap = await takeSnapshot(client, 'prod');
    expect(snap.containers[0]?.specHash).toBe(specHash(serviceSpec()));
  });

  it('copes with the engine answering Volumes: null and odd labels', async () => {
    const { client } = fakeClient([container('x', { 'io.capstan.instance': 'prod', 'com.docker.compose.container-number': 'two' }, 'weird')], [], null);
    const state = await takeSnapshot(client, 'prod');
    expect(state.volumes).toEqual([]);
    expect(state.containers[0]).toMatchObject({ number: 0, state: 'dead', stack: '', service: '', specHash: '' });
  });
});

describe('unhealthy containers', () => {
  it('are inspected for the last output of their healthcheck, which status shows', async () => {
    const { client, calls } = fakeClient([container('web-api-2', OURS, 'running', 'Up 2 minutes (unhealthy)'), container('web-api-3', OURS, 'running', 'Up 2 minutes (healthy)')], [], []);
    client.getContainer = ((id: string) => ({
      inspect: async () => (calls.push(['inspect', id]), {
        State: { Health: { Status: 'unhealthy', FailingStreak: 4, Log: [
          { Start: '', End: '', ExitCode: 0, Output: 'ok' },
          { Start: '', End: '', ExitCode: 1, Output: 'wget: server returned error:\n HTTP/1.1 404 Not Found\n' },
        ] } },
      }),
    })) as unknown as SnapshotClient['getContainer'];
    const state = await takeSnapshot(client, 'prod');
    expect(calls.filter((c) => (c as string[])[0] === 'inspect')).toEqual([['inspect', 'web-api-2-id']]);
    expect(state.containers.map((c) => c.healthcheck)).toEqual([{ exitCode: 1, output: 'wget: server returned error: | HTTP/1.1 404 Not Found' }, undefined]);
    // A running container has no finished run to feed backoff.
    expect(state.containers[0]?.lastRun).toBeUndefined();
  });
});

describe('parseHealth', () => {
  it.each([
    ['Up 3 seconds (healthy)', 'healthy'],
    ['Up 1 second (health: starting)', 'starting'],
    ['Up 2 minutes (unhealthy)', 'unhealthy'],
    ['Up 2 minutes', undefined],
    ['Exited (137) 1 second ago', undefined],
    ['Created', undefined],
  ])('%s → %s', (status, health) => {
    expect(parseHealth(status)).toBe(health);
  });
});

describe('container address', () => {
  it('takes the first network (by name) that gave the container an address, from the list answer alone', async () => {
    const c = container('web-api-1', OURS);
    c.NetworkSettings = { Networks: { zz_other: { IPAddress: '10.0.9.9' }, web_default: { IPAddress: '172.20.0.3' }, aa_none: { IPAddress: '' } } } as unknown as ContainerInfo['NetworkSettings'];
    const { client } = fakeClient([c, container('web-api-2', OURS)], [], []);
    const state = await takeSnapshot(client, 'prod');
    expect(state.containers.map((x) => x.ip)).toEqual(['172.20.0.3', undefined]);
  });
});
