// `--with-registry-auth` on a swarm: every service create and update carries
// the credentials Docker's client config holds for the image's registry (the
// X-Registry-Auth body), looked up as for a pull on one engine; an image of
// another registry goes without. The engine is a recorder: what reaches
// Swarm's API is what this unit decides.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryHeldRollouts } from '../../src/apply/held-rollouts.js';
import { memoryRolloutStore } from '../../src/apply/rollout-store.js';
import { swarmPort } from '../../src/apply/swarm-port.js';
import { NO_TRAFFIC } from '../../src/apply/traffic.js';
import type { EngineAuth, SwarmEngine } from '../../src/backends/swarm/swarm-engine.js';
import { dockerCredentials, engineAuthFor } from '../../src/images/credentials.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { ObservedState } from '../../src/observed/model.js';
import { REV_A, desiredService, desiredStack, desiredState } from '../helpers/specs.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-swarm-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry credentials on a swarm', () => {
  it('passes the image registry\'s credentials with each service create, and none for a registry without', async () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ auths: { 'registry.example.test:5000': { auth: Buffer.from('deploy:s3cret').toString('base64') } } }));
    const credentials = dockerCredentials({ file });
    const created: { name: string; auth: EngineAuth | undefined }[] = [];
    const engine = {
      endpoint: 'test',
      fileIds: async () => new Map<string, string>(),
      createService: async (spec, auth) => {
        created.push({ name: spec.Name ?? '', auth });
        return 'id';
      },
    } as Partial<SwarmEngine> as SwarmEngine;
    const port = swarmPort(engine, (image) => engineAuthFor(credentials, image));
    const stack = desiredStack('web', [
      desiredService('web', 'api', { image: 'registry.example.test:5000/team/api:1.2' }),
      desiredService('web', 'cache', { image: 'redis:7' }),
    ]);
    const desired = desiredState(REV_A, [stack]);
    const observed: ObservedState = { instance: 'test', containers: [], networks: [{ id: 'n', name: 'web_default', stack: 'web', labels: {} }], volumes: [], swarm: { services: [], nodes: [], files: [] } };
    const plan = port.plan(desired, observed, { held: [] });
    const result = await port.applyStack({ plan, desired: stack, observed: [], records: new Map(), dependencyWaits: new Map() }, { instance: 'test', revision: REV_A, checkoutDir: undefined, publishPorts: true }, {
      parallelism: 2, logger: silentLogger(), rollout: { traffic: NO_TRAFFIC, probes: { track: () => undefined, healthOf: () => undefined }, held: memoryHeldRollouts(), store: memoryRolloutStore(), now: () => 0 },
    });
    expect(result.failures).toEqual([]);
    expect(created.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'web_api', auth: { username: 'deploy', password: 's3cret', serveraddress: 'registry.example.test:5000' } },
      { name: 'web_cache', auth: undefined },
    ]);
  });
});
