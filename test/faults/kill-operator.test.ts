// Issue 14 item 6: `kill -9` of the operator at 20 random points across
// rolling updates under load. The router (`--router process`, which outlives
// its operator by design) serves a 3-replica stack on the HTTP entry and a
// published port while client loops hit both; releases roll one after
// another, and at seeded random moments the operator is killed with SIGKILL
// and started again at once. The bar: not one failed request, and after the
// last kill everything converges on the last release — the restarted operator
// resumes the persisted rollout, no twin is left behind, the status branch
// says Ready at the last commit, no rollout record remains, and a container
// Capstan does not own (one wearing the stack's Compose project label) is
// untouched. The seed and every kill point are printed.

import { execFile, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { spawnCapstan, stopRouter } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually, startLoad } from '../helpers/load.js';
import { countBy, freePort, request } from '../helpers/net.js';
import { faultSeed, seededRandom } from '../helpers/seeded.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-kill');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-kill-'));
const bystander = `${stack}-bystander`;
const KILLS = 20;
const RELEASES = 7;
/** The longest random wait before a kill (from the commit or the restart before it): a few rollout batches, so kills land in every phase, startup included. */
const MAX_KILL_DELAY_MS = 6_000;
let git: TestGitServer;
let repo: TestRepo;
let httpPort: number;
let l4Port: number;
let daemon: ChildProcess | undefined;
let logs = '';
/** Where each kill landed, printed at the end (and in a timeout's explanation). */
const points: string[] = [];

const manifest = (release: number): string => `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo release-${release} > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    deploy:
      replicas: 3
      update_config: { parallelism: 1, monitor: 1s, order: start-first }
    ports: ["127.0.0.1:${l4Port}:80"]
    x-capstan:
      route: { path: / }
      probe: { http: { path: /index.html, port: 80 }, interval: 200ms, failure_threshold: 2 }
      progress_deadline: 30s
`;

function startDaemon(): ChildProcess {
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort)], (text) => {
    logs += text;
    // Every operator's whole log, for a failure that needs more than the tail: CAPSTAN_FAULT_LOG=/path.
    if (process.env['CAPSTAN_FAULT_LOG'] !== undefined) appendFileSync(process.env['CAPSTAN_FAULT_LOG'], text);
  }, process.env['CAPSTAN_FAULT_LOG'] === undefined ? {} : { CAPSTAN_LOG_LEVEL: 'debug' });
  return daemon;
}

/** kill -9, and wait until the process is gone (its lock is then free). */
async function killDaemon(): Promise<void> {
  const d = daemon;
  if (d === undefined || d.exitCode !== null || d.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => d.once('exit', () => resolve()));
  d.kill('SIGKILL');
  await gone;
}

const explain = async (): Promise<string> => `kills so far:\n  ${points.join('\n  ')}\ncontainers: ${(await containerNames()).join(' ')}\nanswers: ${JSON.stringify(await releases().catch((e: unknown) => String(e)))}\ndaemon logs:\n${logs.slice(-8000)}`;

/** What the last log line of the killed operator was doing: where the kill landed. */
function lastActivity(): string {
  const lines = logs.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const msg = (JSON.parse(lines[i] ?? '') as { msg?: string }).msg;
      if (msg !== undefined) return msg.replaceAll(stack, '<stack>').slice(0, 80);
    } catch {
      // a partial line
    }
  }
  return 'nothing logged yet';
}

async function containerNames(): Promise<string[]> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}']);
  return stdout.split('\n').filter((l) => l !== '').sort();
}

async function releases(): Promise<Record<string, number>> {
  const bodies: string[] = [];
  for (let i = 0; i < 20; i++) bodies.push((await request(httpPort)).body.trim());
  return countBy(bodies);
}

const slots = (): string[] => [`${stack}-web-1`, `${stack}-web-2`, `${stack}-web-3`];

/** Every answer is `release`, only the three slots exist, and the status branch says Ready at `sha`. */
async function convergedAt(release: number, sha: string): Promise<true | undefined> {
  if ((await releases())[`release-${release}`] !== 20) return undefined;
  if (JSON.stringify(await containerNames()) !== JSON.stringify(slots())) return undefined;
  const status = parse(await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`)) as { lastAppliedRevision: string; conditions: { type: string; status: string }[] };
  return status.lastAppliedRevision === sha && status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
}

beforeAll(async () => {
  git = await startTestGitServer();
  repo = await git.createRepo('infra');
  httpPort = await freePort();
  l4Port = await freePort();
  // Not Capstan's (no instance label), though it wears the stack's Compose project: it must survive every kill and restart.
  await exec('docker', ['run', '-d', '--name', bystander, '--label', `com.docker.compose.project=${stack}`, '--label', 'com.docker.compose.service=web', TEST_IMAGE, 'sleep', '3600']);
  const first = await repo.commitFiles({ 'stacks/web.yaml': manifest(1) }, 'release 1');
  startDaemon();
  await eventually(() => convergedAt(1, first), 90_000, explain);
});

afterAll(async () => {
  daemon?.kill('SIGKILL');
  stopRouter(dataDir);
  await cleanupInstance(instance);
  await exec('docker', ['rm', '-f', bystander]).catch(() => undefined);
  await git.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 of the operator across rollouts under load', () => {
  it(`${KILLS} kills at seeded random points: no failed request, converged afterwards`, async () => {
    const seed = faultSeed(1414);
    const random = seededRandom(seed);
    const bystanderId = (await exec('docker', ['inspect', '--format', '{{.Id}}', bystander])).stdout.trim();
    // Bounded load on both entries until stopped: 2 clients on the HTTP entry, 2 on the published port.
    const traffic = startLoad([httpPort, l4Port], 4, 200_000);
    let kills = 0;
    let last = '';
    const started = Date.now();
    let result = { ok: 0, failed: ['the load never ran'] };
    try {
      for (let release = 2; release <= RELEASES + 1; release++) {
        last = await repo.commitFiles({ 'stacks/web.yaml': manifest(release) }, `release ${release}`);
        // Kills spread evenly over the releases; the first ones get the remainder.
        const here = Math.floor(KILLS / RELEASES) + (release - 2 < KILLS % RELEASES ? 1 : 0);
        for (let k = 0; k < here; k++) {
          const delay = Math.round(random() * MAX_KILL_DELAY_MS);
          await new Promise((r) => setTimeout(r, delay));
          const doing = lastActivity();
          await killDaemon();
          kills++;
          points.push(`#${kills} release ${release} +${delay} ms: ${doing}`);
          startDaemon();
        }
        // Each release converges before the next: a kill then lands in a fresh rollout, not a superseded one.
        await eventually(() => convergedAt(release, last), 120_000, explain);
      }
    } finally {
      result = await traffic.stop();
    }
    const convergedMs = Date.now() - started;
    console.log(`[fault] kill -9 points (seed ${seed}):\n  ${points.join('\n  ')}`);
    console.log(`[fault] kill -9 of the operator: ${kills} kills over ${RELEASES} rolling updates of 3 replicas in ${Math.round(convergedMs / 1000)} s; ${result.ok} requests, ${result.failed.length} failed; converged on the last release after each (load average ${loadavg()[0]?.toFixed(1) ?? '?'})`);
    expect(kills).toBe(KILLS);
    expect(result.failed).toEqual([]);
    expect(result.ok).toBeGreaterThan(0);
    expect(await containerNames()).toEqual(slots());
    // No rollout is left recorded: each was resumed to its end.
    expect(readdirSync(join(dataDir, 'rollouts', instance)).filter((f) => f.endsWith('.json'))).toEqual([]);
    // The bystander is the same container, still running.
    expect((await exec('docker', ['inspect', '--format', '{{.Id}} {{.State.Running}}', bystander])).stdout.trim()).toBe(`${bystanderId} true`);
  });
});
