// The router in front of real busybox httpd replicas: the snapshot gives each
// replica's address, buildRoutingTable turns a published port and an
// x-capstan.route into L4 and L7 entries, and traffic spreads evenly. The
// replicas publish nothing themselves (as they will once the router serves
// published ports). Everything carries this file's instance label.

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, DeployContext } from '../../src/backends/backend.js';
import { createDockerBackend } from '../../src/backends/docker/docker-backend.js';
import { silentLogger } from '../../src/logging/logger.js';
import type { NetworkSpec } from '../../src/manifests/model.js';
import { RouterClient } from '../../src/router/client.js';
import { buildRoutingTable } from '../../src/router/routes.js';
import { startRouter, type RunningRouter } from '../../src/router/service.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { countBy, freePort, request } from '../helpers/net.js';
import { desiredService, desiredStack, desiredState } from '../helpers/specs.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-router');
const stack = instance;
const ctx: DeployContext = { instance, revision: 'a'.repeat(40), checkoutDir: undefined, publishPorts: false };
const net: NetworkSpec = { name: 'default', engineName: `${stack}_default`, external: false, driver: undefined, labels: {} };
// Each replica serves its own hostname (the container id prefix), so bodies tell replicas apart.
const HTTPD = ['sh', '-c', "trap 'exit 0' TERM; mkdir -p /www && hostname > /www/index.html; httpd -f -p 80 -h /www & wait"];

let backend: Backend;
let running: RunningRouter;
let dataDir: string;

beforeAll(async () => {
  await exec('bash', ['scripts/build-images.sh']);
  backend = await createDockerBackend({ logger: silentLogger() });
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'capstan-router-rep-'));
});

afterAll(async () => {
  await running?.stop(0);
  await cleanupInstance(instance);
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('router over real replicas', () => {
  it('spreads L7 requests and L4 connections evenly over three busybox httpd replicas', async () => {
    const [httpPort, l4Port] = [await freePort(), await freePort()];
    const run = desiredService(stack, 'web', { image: TEST_IMAGE, command: HTTPD, expose: [80], replicas: 3, stopGracePeriodMs: 2000 });
    await backend.createNetwork(stack, net, ctx);
    for (const n of [1, 2, 3]) await backend.createContainer(run, n, ctx);

    // Same service as the router will see it: a published port and a route.
    const routed = desiredService(stack, 'web', {
      replicas: 3,
      ports: [{ hostIp: '127.0.0.1', published: l4Port, target: 80, protocol: 'tcp' }],
      capstan: { strategy: 'rolling', progressDeadlineMs: 60_000, probe: undefined, routes: [{ host: 'web.test', pathPrefix: '/', port: 80, sticky: false }] },
    });
    const observed = await backend.observe(instance);
    expect(observed.containers.map((c) => c.ip)).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/), expect.any(String), expect.any(String)]);
    const { table, problems } = buildRoutingTable(desiredState(ctx.revision, [desiredStack(stack, [routed])]), observed, httpPort);
    expect(problems).toEqual([]);

    running = await startRouter(dataDir, { httpHost: '127.0.0.1', httpPort });
    await new RouterClient(running.paths.socket).pushTable(table);

    // httpd may still be starting: wait (bounded) until every replica answers through the router.
    const seen = new Set<string>();
    for (let i = 0; i < 200 && seen.size < 3; i++) {
      const r = await request(httpPort, { host: 'web.test' }).catch(() => undefined);
      if (r?.status === 200) seen.add(r.body);
      else await new Promise((res) => setTimeout(res, 50));
    }
    expect(seen.size).toBe(3);

    const l7: string[] = [];
    for (let i = 0; i < 30; i++) l7.push((await request(httpPort, { host: 'web.test' })).body);
    expect(Object.values(countBy(l7))).toEqual([10, 10, 10]);

    const l4: string[] = [];
    for (let i = 0; i < 30; i++) l4.push((await request(l4Port, { headers: { connection: 'close' } })).body);
    expect(Object.values(countBy(l4))).toEqual([10, 10, 10]);
    expect(new Set(l4)).toEqual(seen);
  });
});
