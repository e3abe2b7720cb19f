// The reconciler's DesiredLoader reads capstan.yaml from the repository root
// at the same commit as the manifests: a policy exception takes effect with
// the commit that adds it, and a breach makes the whole commit invalid.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestsInvalidError } from '../../src/errors.js';
import { silentLogger } from '../../src/logging/logger.js';
import { DesiredLoader } from '../../src/reconciler/desired-source.js';
import { openSource } from '../../src/source/git-source.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

let server: TestGitServer;
let repo: TestRepo;
let dataDir: string;

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('policy');
  dataDir = await mkdtemp(join(tmpdir(), 'capstan-policy-'));
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('desired state and the repository policy', () => {
  it('rejects a breach until capstan.yaml at the same commit allows it', async () => {
    const breach = await repo.commitFiles({ 'stacks/agent.yaml': 'services:\n  agent:\n    image: portainer/agent:2\n    volumes: [/var/run/docker.sock:/var/run/docker.sock]\n' });
    const allowed = await repo.commitFiles({ 'capstan.yaml': 'policy:\n  stacks:\n    agent: { allow: [docker_socket] }\n' });
    const loader = new DesiredLoader({ source: openSource({ repo: repo.url, branch: repo.branch, dataDir, credentials: undefined, logger: silentLogger() }), path: 'stacks', env: {}, logger: silentLogger() });

    const err = await loader.load(breach).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestsInvalidError);
    expect((err as ManifestsInvalidError).errors.map((e) => e.format())).toEqual([
      'stacks/agent.yaml:4:15 services.agent.volumes[0]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) (to allow it, add to capstan.yaml: policy: { stacks: { agent: { allow: [docker_socket] } } })',
    ]);
    const desired = await loader.load(allowed);
    expect(desired.stacks.map((s) => s.name)).toEqual(['agent']);
  });
});
