// Issue 14 item 6: the data dir's filesystem full. The daemon's --data-dir
// is a 2 MB tmpfs the test mounts and then fills to the last byte while the
// daemon runs: a new commit cannot be fetched into the Git cache (or its
// rollout record written), which /api/status and the log say as a typed
// E_DATA_DIR_WRITE naming the path and the fix — no stack trace — the
// replicas keep running, and once space is freed the commit lands.
// Nothing the daemon keeps there is corrupted: `git fsck` passes on the Git
// cache and on the status branch's work repository afterwards.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiGet, loggedApi, spawnCapstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-full');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-full-'));
const filler = join(dataDir, 'filler');
let mounted = false;
let git: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess | undefined;
let logs = '';

const manifest = (release: number): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 2, update_config: { monitor: 1s } }
`;

const explain = (): string => `daemon logs:\n${logs.slice(-6000)}`;

async function replicas(): Promise<{ id: string; state: string; release: string }[]> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.ID}} {{.State}}']);
  return Promise.all(stdout.split('\n').filter((l) => l !== '').map(async (row) => {
    const [id = '', state = ''] = row.split(' ');
    const env = (await exec('docker', ['inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', id])).stdout;
    return { id, state, release: /^RELEASE=(.*)$/m.exec(env)?.[1] ?? '' };
  }));
}

async function convergedAt(release: number, sha: string): Promise<true | undefined> {
  const rs = await replicas();
  if (rs.length !== 2 || !rs.every((r) => r.state === 'running' && r.release === String(release))) return undefined;
  const status = parse(await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`)) as { lastAppliedRevision: string; conditions: { type: string; status: string }[] };
  return status.lastAppliedRevision === sha && status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
}

/** Writes until the filesystem refuses: not one byte left. Returns the bytes written. */
function fill(): number {
  const fd = openSync(filler, 'a');
  const chunk = Buffer.alloc(4096, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return written;
}

beforeAll(async () => {
  await exec('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dataDir]);
  mounted = true;
  git = await startTestGitServer();
  repo = await git.createRepo('infra');
  const first = await repo.commitFiles({ 'stacks/app.yaml': manifest(1) }, 'release 1');
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--router', 'none'], (text) => (logs += text));
  await eventually(() => convergedAt(1, first), 60_000, explain);
});

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await cleanupInstance(instance);
  await git?.close();
  if (mounted) await exec('umount', ['-l', dataDir]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the data dir full', () => {
  it('says so in /api/status, keeps what runs, corrupts nothing, and recovers once space is freed', async () => {
    const api = loggedApi(logs);
    const filled = fill();
    const next = await repo.commitFiles({ 'stacks/app.yaml': manifest(2) }, 'release 2');
    // Where the fetch or the pass ran out of space, /api/status says so: the operator's error or the lane's, naming what could not be written.
    type Api = { operator: { lastError?: string }; lanes: { stack: string; error: { code: string; message: string } | null }[] };
    const error = await eventually(async () => {
      const s = (await (await apiGet(api, '/api/status', dataDir)).json()) as Api;
      const lane = s.lanes.find((l) => l.stack === stack)?.error;
      const e = s.operator.lastError ?? (lane === null || lane === undefined ? undefined : `${lane.code}: ${lane.message}`);
      return e?.includes('no space left') === true ? e : undefined;
    }, 30_000, explain);
    expect(error).toMatch(new RegExp(`^(E_DATA_DIR_WRITE: )?cannot write ${dataDir}/\\S+: no space left on its filesystem$`));
    // The log says it the same way, with its code and the fix; a full disk is no bug, so no stack trace.
    const full = logs.split('\n').filter((l) => l.includes('no space left'));
    expect(full.length).toBeGreaterThan(0);
    for (const line of full) {
      expect(line).toContain('"code":"E_DATA_DIR_WRITE"');
      expect(line).toContain('free space on the data dir');
      expect(line).not.toContain('"err":');
      expect(line).not.toContain('    at ');
    }
    // Release 1 keeps running throughout.
    expect((await replicas()).filter((r) => r.state === 'running' && r.release === '1').length).toBe(2);
    const fullLines = full.length;

    rmSync(filler);
    const freedAt = Date.now();
    await eventually(() => convergedAt(2, next), 60_000, explain);
    const recoveredMs = Date.now() - freedAt;
    await eventually(async () => ((((await (await apiGet(api, '/api/status', dataDir)).json()) as { operator: { lastError?: string } }).operator.lastError ?? null) === null ? true : undefined), 10_000, explain);
    // Nothing corrupted: both repositories the daemon keeps in the data dir pass fsck.
    const gitdirs = [...readdirSync(join(dataDir, 'git')).filter((d) => !d.endsWith('.lock')).map((d) => join(dataDir, 'git', d)), ...readdirSync(join(dataDir, 'status-git')).map((d) => join(dataDir, 'status-git', d))];
    expect(gitdirs.length).toBeGreaterThanOrEqual(2);
    for (const dir of gitdirs) await runGit(dir, 'fsck', '--no-dangling');
    console.log(`[fault] data dir full (2 MB tmpfs, ${filled} bytes to fill it): "${error}"; ${fullLines} log lines while full; release 1 kept running; the new commit converged ${recoveredMs} ms after space was freed; git fsck clean on ${gitdirs.length} repositories (load average ${loadavg()[0]?.toFixed(1) ?? '?'})`);
  });
});
