// Anonymous volumes and fixed network addresses on the real engine (issue 9,
// item 6): each replica slot gets its own labelled anonymous volume, found
// again by the container that replaces it (its data survives the recreate)
// and never removed; a service with ipv4_address on a network with its own
// ipam runs at that address.

import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { docker } from '../helpers/registry.js';

const instance = uniqueInstance('t-compose-more');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-compose-more-'));
// A /24 of 10.200-249.x.0 nobody else on the shared engine is likely to hold.
const subnet = `10.${200 + randomInt(50)}.${randomInt(256)}`;
let server: TestGitServer;
let repo: TestRepo;

const manifest = (release: string): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
    volumes: [/data]
    deploy: { replicas: 2, update_config: { monitor: 0s } }
  dns:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    networks:
      lan: { ipv4_address: ${subnet}.53 }
networks:
  lan:
    ipam: { config: [{ subnet: ${subnet}.0/24 }] }
`;

const cli = (command: string) => capstan([command, '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--status-branch', 'none', '--log-level', 'warn']);

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('compose keys of issue 9', () => {
  it('gives each slot its own anonymous volume, which the recreated replica finds again', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest('1') }, 'app');
    const first = await cli('apply');
    expect(first.code, first.stderr).toBe(0);
    await docker(['exec', `${stack}-app-1`, 'sh', '-c', 'echo slot-one > /data/mark']);
    await docker(['exec', `${stack}-app-2`, 'sh', '-c', 'echo slot-two > /data/mark']);
    const volumes = await docker(['volume', 'ls', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Name}} {{.Label "io.capstan.anonymous-volume"}}']);
    expect(volumes.split('\n').sort()).toEqual([expect.stringMatching(new RegExp(`^${stack}_app-1_[0-9a-f]{12} /data$`)), expect.stringMatching(new RegExp(`^${stack}_app-2_[0-9a-f]{12} /data$`))]);

    const before = await docker(['inspect', '--format', '{{.Id}}', `${stack}-app-1`]);
    await repo.commitFiles({ 'stacks/app.yaml': manifest('2') }, 'release 2');
    const second = await cli('apply');
    expect(second.code, second.stderr).toBe(0);
    expect(await docker(['inspect', '--format', '{{.Id}}', `${stack}-app-1`])).not.toBe(before);
    expect(await docker(['exec', `${stack}-app-1`, 'cat', '/data/mark'])).toBe('slot-one');
    expect(await docker(['exec', `${stack}-app-2`, 'cat', '/data/mark'])).toBe('slot-two');

    // Scaled away, the slot's volume stays: volumes are never removed by Capstan.
    await repo.commitFiles({ 'stacks/app.yaml': manifest('2').replace('replicas: 2', 'replicas: 1') }, 'scale down');
    expect((await cli('apply')).code).toBe(0);
    expect(await docker(['volume', 'ls', '-q', '--filter', `label=io.capstan.instance=${instance}`])).toContain(`${stack}_app-2_`);
  });

  it('runs a service at its fixed address on a network with its own ipam', async () => {
    const ip = await docker(['inspect', '--format', `{{(index .NetworkSettings.Networks "${stack}_lan").IPAddress}}`, `${stack}-dns-1`]);
    expect(ip).toBe(`${subnet}.53`);
    const net = await docker(['network', 'inspect', '--format', '{{(index .IPAM.Config 0).Subnet}}', `${stack}_lan`]);
    expect(net).toBe(`${subnet}.0/24`);
  });
});
