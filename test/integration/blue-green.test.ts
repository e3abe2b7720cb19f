// Issue 12's blue-green releases and global services as a user sees them,
// through `capstan run` and its router: the new set starts beside the live
// one and takes no request until all of it is ready, then every request moves
// at once — no failed request, and none started after the first new answer
// meets the old version; a new set failing within `monitor` is switched away
// from at once (the old set never stopped). A global service runs one
// replica on this engine, updated like a rolling update.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { countBy, freePort, request } from '../helpers/net.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-bg');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-bg-'));
let server: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let logs = '';
let daemon: ChildProcess | undefined;

/** `release-<n>` on /; with `failAfter`, its probe starts failing that many seconds after start. */
function manifest(release: number, opts: { failAfter?: number; global?: string } = {}): string {
  const breaks = opts.failAfter === undefined ? '' : ` (sleep ${opts.failAfter}; rm /www/healthz) &`;
  // The breaker runs beside httpd, after /www exists.
  return `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo release-${release} > /www/index.html && echo ok > /www/healthz && trap 'exit 0' TERM; httpd -f -p 80 -h /www &${breaks} wait"]
    deploy: { replicas: 3 }
    x-capstan:
      route: { path: / }
      probe: { http: { path: /healthz, port: 80 }, interval: 200ms, failure_threshold: 2 }
      progress_deadline: 20s
      strategy: blue-green
      blue_green: { monitor: 20s, scale_down_delay: 2s }
  agent:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: { VERSION: "${opts.global ?? '1'}" }
    deploy: { mode: global }
`;
}

function startDaemon(): void {
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort)], (text) => (logs += text));
}

const daemonLogs = (): string => `daemon logs:\n${logs.slice(-8000)}`;

async function releases(n: number): Promise<Record<string, number>> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) bodies.push((await request(httpPort)).body.trim());
  return countBy(bodies);
}

async function containers(filter: string): Promise<string[]> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--filter', filter, '--format', '{{.Names}} {{.Label "io.capstan.slot"}}']);
  return stdout.split('\n').filter((l) => l !== '').sort();
}

/** Sequential clients recording when each request started and what answered it. */
function timedLoad(clients: number): { stop: () => Promise<{ answers: { started: number; ended: number; body: string }[]; failed: string[] }> } {
  let done = false;
  const answers: { started: number; ended: number; body: string }[] = [];
  const failed: string[] = [];
  const running = Promise.all(Array.from({ length: clients }, async () => {
    for (let i = 0; i < 20_000 && !done; i++) {
      const started = performance.now();
      try {
        const r = await request(httpPort);
        if (r.status === 200) answers.push({ started, ended: performance.now(), body: r.body.trim() });
        else failed.push(`${r.status} ${r.body.slice(0, 80)}`);
      } catch (err) {
        failed.push(String(err));
      }
    }
  }));
  return { stop: async () => { done = true; await running; return { answers, failed }; } };
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  await repo.commitFiles({ 'stacks/web.yaml': manifest(1) }, 'release 1');
  startDaemon();
  await eventually(async () => ((await releases(20))['release-1'] === 20 ? true : undefined), 60_000, daemonLogs);
});

afterAll(async () => {
  await tearDownDaemons({ daemons: [daemon], dataDir, instance, servers: [server] });
});

describe('blue-green releases behind the router', () => {
  it('switches every request at once with no failed request, and no request after the switch meets the old set', async () => {
    const load = timedLoad(4);
    await repo.commitFiles({ 'stacks/web.yaml': manifest(2) }, 'release 2');
    await eventually(async () => (logs.includes('blue-green release of') && logs.match(/blue-green release of \S+ done/) !== null ? true : undefined), 90_000, daemonLogs);
    const { answers, failed } = await load.stop();
    expect(failed).toEqual([]);
    const firstNew = Math.min(...answers.filter((a) => a.body === 'release-2').map((a) => a.ended));
    const lateOld = answers.filter((a) => a.body === 'release-1' && a.started > firstNew);
    expect(lateOld).toEqual([]);
    expect(answers.some((a) => a.body === 'release-1')).toBe(true);
    // The twins took the replicas' names; the new set carries its colour.
    expect(await containers('label=io.capstan.service=web')).toEqual([1, 2, 3].map((n) => `${stack}-web-${n} green`));
  });

  it('switches back at once when the new set fails within monitor: the old set serves again, the new one is gone, status says BlueGreenFailed', async () => {
    await repo.commitFiles({ 'stacks/web.yaml': manifest(3, { failAfter: 10 }) }, 'release 3 (fails after 10 s)');
    await eventually(async () => ((await releases(10))['release-3'] === 10 ? true : undefined), 60_000, daemonLogs);
    const status = await eventually(async () => {
      const text = await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`).catch(() => '');
      const doc = parse(text) as { conditions?: { type: string; reason: string; message: string }[] } | null;
      const d = doc?.conditions?.find((c) => c.type === 'Degraded');
      return d?.reason === 'BlueGreenFailed' ? d : undefined;
    }, 60_000, daemonLogs);
    expect(status.message).toContain('within the monitor window (20 s)');
    expect((await releases(20))['release-2']).toBe(20);
    expect(await containers('label=io.capstan.service=web')).toEqual([1, 2, 3].map((n) => `${stack}-web-${n} green`));
  });
});

describe('global services', () => {
  it('runs exactly one replica on this engine and replaces it when its spec changes', async () => {
    expect(await containers('label=io.capstan.service=agent')).toEqual([`${stack}-agent-1 stable`]);
    await repo.commitFiles({ 'stacks/web.yaml': manifest(2, { global: '2' }) }, 'agent 2');
    await eventually(async () => {
      const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--filter', 'label=io.capstan.service=agent', '--format', '{{.Names}}={{.ID}}']);
      const lines = stdout.trim().split('\n').filter((l) => l !== '');
      if (lines.length !== 1) return undefined;
      const env = (await exec('docker', ['inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', lines[0]?.split('=')[1] ?? ''])).stdout;
      return env.includes('VERSION=2') ? true : undefined;
    }, 60_000, daemonLogs);
  });
});
