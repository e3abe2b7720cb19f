// Issue 5's rolling updates as a user sees them, through `capstan run` with
// its router: a new release rolls over 3 replicas while a bounded load loop
// hits the HTTP entry and the published port, and not one request fails; a
// release whose new replicas never pass their probe is rolled back (still no
// failed request), reported, and not retried; the operator killed mid-rollout
// finishes the job after a restart; scaling down drains before it stops.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { afterPasses, loggedApi, spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually, startLoad } from '../helpers/load.js';
import { countBy, freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-roll');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-roll-'));
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let l4Port: number;
let logs = '';
let daemon: ChildProcess | undefined;

/** Each replica serves `release-<n>`; `probePath` is what the probe asks for (a missing one never passes). */
function manifest(opts: { release: number; replicas?: number; probePath?: string; initialDelay?: string }): string {
  const { release, replicas = 3, probePath = 'index.html', initialDelay = '0s' } = opts;
  return `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo release-${release} > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    deploy:
      replicas: ${replicas}
      update_config: { parallelism: 1, monitor: 1s, order: start-first }
    ports: ["127.0.0.1:${l4Port}:80"]
    x-capstan:
      route: { path: / }
      probe: { http: { path: /${probePath}, port: 80 }, interval: 200ms, initial_delay: ${initialDelay}, failure_threshold: 2 }
      progress_deadline: 4s
`;
}

function startDaemon(): ChildProcess {
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort)], (text) => (logs += text));
  return daemon;
}

/** The daemon's last lines, for a wait that timed out. */
const daemonLogs = (): string => `daemon logs:\n${logs.slice(-6000)}`;

/** Bounded load on both entries: `clients` loops of sequential requests until `stop` (or `maxRequests` each); the bodies counted by release. */
function load(clients: number, maxRequests: number): { stop: () => Promise<{ ok: number; failed: string[]; bodies: Record<string, number> }> } {
  const traffic = startLoad([httpPort, l4Port], clients, maxRequests);
  return {
    stop: async () => {
      const seen = await traffic.stop();
      return { ...seen, bodies: countBy(seen.bodies) };
    },
  };
}

/** Releases the router answers with over 30 requests on the HTTP entry. */
async function releases(): Promise<Record<string, number>> {
  const bodies: string[] = [];
  for (let i = 0; i < 30; i++) bodies.push((await request(httpPort)).body.trim());
  return countBy(bodies);
}

async function containerNames(): Promise<string[]> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}']);
  return stdout.split('\n').filter((l) => l !== '').sort();
}

/** The last step of a slot (the twin takes its replica's name) follows its first request by a moment. */
async function namesSettleAt(expected: readonly string[]): Promise<void> {
  await eventually(async () => (JSON.stringify(await containerNames()) === JSON.stringify(expected) ? true : undefined), 20_000, daemonLogs);
}

async function stackStatus(): Promise<{ lastAppliedRevision: string; conditions: { type: string; status: string; reason: string; message: string }[] }> {
  return parse(await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`)) as never;
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  l4Port = await freePort();
  await repo.commitFiles({ 'stacks/web.yaml': manifest({ release: 1 }) }, 'release 1');
  startDaemon();
  await eventually(async () => ((await releases())['release-1'] === 30 ? true : undefined), 60_000, daemonLogs);
});

afterAll(async () => {
  await tearDownDaemons({ daemons: [daemon], dataDir, instance, servers: [server] });
});

const slots = [`${stack}-web-1`, `${stack}-web-2`, `${stack}-web-3`];

describe('rolling updates behind the router', () => {
  it('rolls a new release over 3 replicas under load without one failed request', async () => {
    const traffic = load(6, 5000);
    await repo.commitFiles({ 'stacks/web.yaml': manifest({ release: 2 }) }, 'release 2');
    await eventually(async () => ((await releases())['release-2'] === 30 ? true : undefined), 60_000, daemonLogs);
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    // Both releases answered while it rolled: old replicas kept serving until new ones were ready.
    expect(Object.keys(result.bodies).sort()).toEqual(['release-1', 'release-2']);
    // Twins took their replicas' names: nothing is left under a second name.
    await namesSettleAt(slots);
    expect(logs).toMatch(/rolling update of \S+\/web: 3 replicas/);
  });

  it('rolls back a release whose new replicas never pass their probe, fails no request, says why, and does not retry it', async () => {
    const traffic = load(6, 5000);
    const bad = await repo.commitFiles({ 'stacks/web.yaml': manifest({ release: 3, probePath: 'healthz-missing' }) }, 'release 3 (probe fails)');
    await eventually(async () => (logs.includes('rolling back') ? true : undefined), 60_000, daemonLogs);
    const status = await eventually(async () => {
      const s = await stackStatus();
      return s.conditions.some((c) => c.reason === 'RolledBack') ? s : undefined;
    }, 60_000, daemonLogs);
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    expect(Object.keys(result.bodies)).toEqual(['release-2']);
    const degraded = status.conditions.find((c) => c.type === 'Degraded');
    expect(degraded?.message).toContain(bad.slice(0, 7));
    expect(degraded?.message).toContain('http GET :80/healthz-missing');
    expect(status.conditions.find((c) => c.type === 'Ready')?.status).toBe('False');

    // Held: further passes start no new twin for the same revision.
    const before = logs.length;
    await afterPasses(loggedApi(logs), dataDir, stack, 3);
    expect(logs.slice(before)).not.toMatch(/rolling update of \S+\/web/);
    expect(await containerNames()).toEqual(slots);
    expect((await releases())['release-2']).toBe(30);
  });

  it('finishes a rollout interrupted by kill -9 of the operator, still without a failed request', async () => {
    const traffic = load(6, 8000);
    // A slow probe start keeps the first twin waiting long enough to kill the operator while it waits.
    await repo.commitFiles({ 'stacks/web.yaml': manifest({ release: 4, initialDelay: '2s' }) }, 'release 4');
    await eventually(async () => ((await containerNames()).some((n) => n.endsWith('-next')) ? true : undefined), 30_000, daemonLogs);
    daemon?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    startDaemon();
    await eventually(async () => ((await releases())['release-4'] === 30 ? true : undefined), 90_000, daemonLogs);
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    await namesSettleAt(slots);
  });

  it('scales down through the drain path: the highest slot leaves without a failed request', async () => {
    const traffic = load(6, 5000);
    await repo.commitFiles({ 'stacks/web.yaml': manifest({ release: 4, replicas: 2, initialDelay: '2s' }) }, 'scale to 2');
    await eventually(async () => ((await containerNames()).length === 2 ? true : undefined), 30_000, daemonLogs);
    await new Promise((r) => setTimeout(r, 500));
    const result = await traffic.stop();
    expect(result.failed).toEqual([]);
    expect(await containerNames()).toEqual(slots.slice(0, 2));
  });
});
