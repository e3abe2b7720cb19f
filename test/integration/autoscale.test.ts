// Issue 12's autoscale as a user sees it, through `capstan run` and its
// router, with a short cooldown: a steady paced load above the target scales
// the service up and holds it there without flapping; when the load stops,
// it scales back down to min after the cooldown, through the drain path, and
// no request fails on the way.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-scale');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-scale-'));
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let listen: string;
let logs = '';
let daemon: ChildProcess | undefined;

const manifest = `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    x-capstan:
      route: { path: / }
      probe: { http: { path: /index.html, port: 80 }, interval: 200ms }
      autoscale: { min: 1, max: 5, target_rps_per_replica: 20, cooldown: 6s }
`;

const daemonLogs = (): string => `daemon logs:\n${logs.slice(-6000)}`;

async function chosen(): Promise<number | undefined> {
  const body = (await (await fetch(`http://${listen}/api/status`, { headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'api.token'), 'utf8').trim()}` } })).json()) as { autoscale?: { service: string; replicas: number }[] };
  return body.autoscale?.find((a) => a.service === 'web')?.replicas;
}

async function running(): Promise<number> {
  const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}']);
  return stdout.split('\n').filter((l) => l !== '').length;
}

/** Requests at a steady `rps` (one every 1000/rps ms on a fixed schedule, each on its own connection) until stopped. */
function pacedLoad(rps: number): { stop: () => Promise<string[]> } {
  let done = false;
  const failed: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const run = (async () => {
    for (let i = 0; !done && i < rps * 600; i++) {
      const due = started + (i * 1000) / rps;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = request(httpPort).then((r) => void (r.status !== 200 && failed.push(`${r.status}`)), (err: unknown) => void failed.push(String(err)));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  })();
  return { stop: async () => { done = true; await run; await Promise.all(inFlight); return failed; } };
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  listen = `127.0.0.1:${await freePort()}`;
  await repo.commitFiles({ 'stacks/web.yaml': manifest }, 'autoscaled web');
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', listen, '--http-port', String(httpPort)], (text) => (logs += text));
  await eventually(async () => ((await request(httpPort)).status === 200 ? true : undefined), 60_000, daemonLogs);
});

afterAll(async () => {
  await tearDownDaemons({ daemons: [daemon], dataDir, instance, servers: [server] });
});

describe('autoscale on the request rate', () => {
  it('scales up under a steady load, holds the count without flapping, and scales down after the cooldown once the load stops', async () => {
    expect(await chosen()).toBe(1);
    // 50 requests/s against 20 per replica: 3 replicas (2.5 rounded up), inside the 10 % tolerance nowhere near 2 or 4.
    const load = pacedLoad(50);
    const up = await eventually(async () => {
      const n = await chosen();
      return n !== undefined && n >= 3 ? n : undefined;
    }, 60_000, daemonLogs);
    await eventually(async () => ((await running()) === up ? true : undefined), 60_000, daemonLogs);
    const seen = new Set<number>();
    for (let i = 0; i < 16; i++) {
      seen.add((await chosen()) ?? 0);
      await new Promise((r) => setTimeout(r, 500));
    }
    const failed = await load.stop();
    expect([...seen]).toEqual([up]);
    expect(up).toBeLessThanOrEqual(4);

    await eventually(async () => ((await chosen()) === 1 && (await running()) === 1 ? true : undefined), 60_000, daemonLogs);
    expect(failed).toEqual([]);
    expect(logs).toMatch(/autoscale \S+\/web: 1 → \d replicas/);
    expect(logs).toMatch(/autoscale \S+\/web: \d → 1 replicas/);
  });
});
