// Issue 14 item 6, the Git faults, on one running `capstan run` whose --repo
// goes through a TCP proxy of the test's (helpers/fault-proxy.ts) to a real
// smart-HTTP Git server with Basic auth: the server down (connection
// refused), stalling mid-response (the proxy stops forwarding), the
// credentials revoked, and the status branch moved by another writer at
// every push. Throughout, the lanes keep healing what runs, each fault shows
// in /api/status, the operator recovers by itself once the fault is gone,
// nothing of anyone else's is lost, and no secret reaches a log or status.
// Each fault prints what was measured (`[fault] ...`) for the note.

import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { apiGet, loggedApi, spawnCapstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { runGit, startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { faultSeed, seededRandom } from '../helpers/seeded.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-fgit');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-fgit-'));
const SECRET = `s3cret-${instance}`;
/** The server reads this object on every request: changing the password revokes the daemon's credentials. */
const auth = { username: 'ops', password: SECRET };
const STATUS_REF = 'refs/heads/capstan/status';
let git: TestGitServer;
let repo: TestRepo;
let proxy: FaultProxy;
let daemon: ChildProcess | undefined;
let logs = '';
let api = '';

/** The other writer on the status branch (see storm below). */
const storm = { on: false, attempts: 0, moved: 0, run: 0, runLimit: 0, random: seededRandom(0) };

const manifest = (release: number): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 2 }
`;

const explain = (): string => `daemon logs:\n${logs.slice(-6000)}`;
/** What a fault did, printed for the note, with the machine's load (timings on a shared 2-core machine vary with it). */
const measured = (fault: string, text: string): void => console.log(`[fault] ${fault}: ${text} (load average ${loadavg()[0]?.toFixed(1) ?? '?'})`);

interface ApiStatus {
  operator: { lastError?: string };
  stacks: { stack: string; lastAppliedRevision?: string; conditions: { type: string; status: string; reason: string; message: string }[] }[];
}
const apiStatus = async (): Promise<ApiStatus> => (await (await apiGet(api, '/api/status', dataDir)).json()) as ApiStatus;

/** The stack's file on the status branch, as the server has it. */
async function committedStatus(): Promise<{ lastAppliedRevision: string; conditions: { type: string; status: string; reason: string; message: string }[] } | undefined> {
  try {
    return parse(await runGit(repo.bareDir, 'show', `capstan/status:status/${stack}.yaml`)) as never;
  } catch {
    return undefined;
  }
}

async function replicas(): Promise<{ id: string; name: string; release: string; state: string }[]> {
  const { stdout } = await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.ID}} {{.Names}} {{.State}}']);
  const rows = stdout.split('\n').filter((l) => l !== '').map((l) => l.split(' ') as [string, string, string]);
  return Promise.all(rows.map(async ([id, name, state]) => {
    const env = (await exec('docker', ['inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', id])).stdout;
    return { id, name, state, release: /^RELEASE=(.*)$/m.exec(env)?.[1] ?? '' };
  }));
}

/** Both replicas run `release` and the status branch says Ready at `sha`. */
async function convergedAt(release: number, sha: string): Promise<true | undefined> {
  const rs = await replicas();
  const status = await committedStatus();
  const ready = status?.conditions.find((c) => c.type === 'Ready');
  return rs.length === 2 && rs.every((r) => r.state === 'running' && r.release === String(release)) && status?.lastAppliedRevision === sha && ready?.status === 'True' ? true : undefined;
}

/** Kills one replica behind Capstan's back; resolves with how long until both run again (healed from events, whatever Git does). */
async function healOneReplica(): Promise<number> {
  const [victim] = await replicas();
  if (victim === undefined) throw new Error('no replica to kill');
  const started = Date.now();
  await exec('docker', ['kill', victim.id]);
  await eventually(async () => {
    const rs = await replicas();
    return rs.length === 2 && rs.every((r) => r.state === 'running') ? true : undefined;
  }, 30_000, explain);
  return Date.now() - started;
}

/** Someone else's commit on the status branch, made on the server as a push would (a file of their own, on top of the tip). */
function moveStatusBranch(n: number): void {
  const run = (args: string[], input?: string, env: Record<string, string> = {}): string => execFileSync('git', args, {
    cwd: repo.bareDir, input, encoding: 'utf8',
    env: { ...process.env, ...env, GIT_AUTHOR_NAME: 'Other Writer', GIT_AUTHOR_EMAIL: 'other@localhost', GIT_COMMITTER_NAME: 'Other Writer', GIT_COMMITTER_EMAIL: 'other@localhost', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();
  let tip: string;
  try {
    tip = run(['rev-parse', '--verify', '--quiet', STATUS_REF]);
  } catch {
    return; // no branch yet: nothing to race
  }
  const index = { GIT_INDEX_FILE: join(dataDir, `other-writer-${n}.index`) };
  const blob = run(['hash-object', '-w', '--stdin'], `note ${n} from another writer\n`);
  run(['read-tree', tip], undefined, index);
  run(['update-index', '--add', '--cacheinfo', `100644,${blob},notes/other-${n}.txt`], undefined, index);
  const tree = run(['write-tree'], undefined, index);
  rmSync(index.GIT_INDEX_FILE, { force: true });
  const commit = run(['commit-tree', tree, '-p', tip, '-m', `other writer ${n}`]);
  run(['update-ref', STATUS_REF, commit, tip]);
  storm.moved++;
}

beforeAll(async () => {
  git = await startTestGitServer({
    auth,
    beforeRequest: ({ method, url, userAgent }) => {
      // Capstan's pushes (isomorphic-git, which sends no User-Agent) of the status branch; the test's own (the git CLI's `git/2.x`) pass.
      if (!storm.on || method !== 'POST' || !url.endsWith('/git-receive-pack') || userAgent.startsWith('git/')) return;
      storm.attempts++;
      // The first attempt of every push finds the branch moved; retries too, a seeded 0-3 more times in a row.
      if (storm.run > storm.runLimit) {
        storm.run = 0;
        storm.runLimit = Math.floor(storm.random() * 4);
        return;
      }
      storm.run++;
      moveStatusBranch(storm.moved + 1);
    },
  });
  repo = await git.createRepo('infra');
  const port = Number(new URL(git.url).port);
  proxy = await startFaultProxy({ host: '127.0.0.1', port });
  const first = await repo.commitFiles({ 'stacks/app.yaml': manifest(1) }, 'release 1');
  daemon = spawnCapstan(['run', '--repo', `http://127.0.0.1:${proxy.port}/infra.git`, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--router', 'none'],
    (text) => (logs += text), { CAPSTAN_GIT_USERNAME: auth.username, CAPSTAN_GIT_PASSWORD: SECRET });
  await eventually(() => convergedAt(1, first), 60_000, explain);
  api = loggedApi(logs);
});

afterAll(async () => {
  daemon?.kill('SIGKILL');
  await proxy.close();
  await cleanupInstance(instance);
  await git.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Git faults', () => {
  it('the Git server down: status names the remote and the reason, the lanes keep healing, the next commit lands once it is back', async () => {
    await proxy.setMode('down');
    const downAt = Date.now();
    const error = await eventually(async () => {
      const e = (await apiStatus()).operator.lastError;
      return e?.includes('connection refused') === true ? e : undefined;
    }, 20_000, explain);
    const seenMs = Date.now() - downAt;
    expect(error).toBe(`cannot fetch http://127.0.0.1:${proxy.port}/infra.git: connection refused`);
    const ready = (await apiStatus()).stacks.find((s) => s.stack === stack)?.conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'GitFetchFailed' });
    const healMs = await healOneReplica();
    const next = await repo.commitFiles({ 'stacks/app.yaml': manifest(2) }, 'release 2');
    const refusedLines = logs.split('\n').filter((l) => l.includes('connection refused')).length;

    await proxy.setMode('forward');
    const upAt = Date.now();
    await eventually(() => convergedAt(2, next), 60_000, explain);
    const recoveredMs = Date.now() - upAt;
    await eventually(async () => (((await apiStatus()).operator.lastError ?? null) === null ? true : undefined), 10_000, explain);
    measured('git server down', `E_GIT_FETCH in /api/status ${seenMs} ms after the server went down; heal while down ${healMs} ms; ${refusedLines} log lines while down; next commit converged ${recoveredMs} ms after the server came back`);
  });

  it('the Git server stalling mid-response: the fetch times out, the lanes keep healing, and it recovers once bytes flow again', async () => {
    await proxy.setMode('stall');
    const stalledAt = Date.now();
    const next = await repo.commitFiles({ 'stacks/app.yaml': manifest(3) }, 'release 3');
    await eventually(async () => (proxy.stalls().held > 0 ? true : undefined), 10_000, explain);
    // While the fetch hangs, a replica killed behind Capstan's back is healed all the same.
    const healMs = await healOneReplica();
    const error = await eventually(async () => {
      const e = (await apiStatus()).operator.lastError;
      return e?.includes('stopped answering') === true ? e : undefined;
    }, 60_000, explain);
    const timedOutMs = Date.now() - stalledAt;
    expect(error).toBe(`cannot fetch http://127.0.0.1:${proxy.port}/infra.git: the server stopped answering mid-response (no bytes for 30s)`);
    expect((await replicas()).every((r) => r.release === '2')).toBe(true);

    await proxy.setMode('forward');
    const flowingAt = Date.now();
    await eventually(() => convergedAt(3, next), 90_000, explain);
    const recoveredMs = Date.now() - flowingAt;
    await eventually(async () => (((await apiStatus()).operator.lastError ?? null) === null ? true : undefined), 10_000, explain);
    const { held, abandoned } = proxy.stalls();
    measured('git server stalls mid-response', `fetch gave up after ${timedOutMs} ms (idle timeout 30 s); ${held} connections held mid-response, ${abandoned} abandoned by Capstan; heal during the stall ${healMs} ms; converged on the new commit ${recoveredMs} ms after bytes flowed again`);
  });

  it('credentials revoked: status and log name the remote, never the secret; it recovers when they work again', async () => {
    auth.password = 'rotated-by-the-git-admin';
    const revokedAt = Date.now();
    const error = await eventually(async () => {
      const e = (await apiStatus()).operator.lastError;
      return e?.includes('authentication') === true ? e : undefined;
    }, 20_000, explain);
    const seenMs = Date.now() - revokedAt;
    expect(error).toBe(`authentication to http://127.0.0.1:${proxy.port}/infra.git failed`);
    expect((await apiStatus()).stacks.find((s) => s.stack === stack)?.conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'GitAuthFailed' });
    const authLine = logs.split('\n').find((l) => l.includes('"E_GIT_AUTH"'));
    expect(authLine).toContain(`http://127.0.0.1:${proxy.port}/infra.git`);
    const healMs = await healOneReplica();
    auth.password = SECRET;
    const next = await repo.commitFiles({ 'stacks/app.yaml': manifest(4) }, 'release 4');
    const restoredAt = Date.now();
    await eventually(() => convergedAt(4, next), 60_000, explain);
    const recoveredMs = Date.now() - restoredAt;
    await eventually(async () => (((await apiStatus()).operator.lastError ?? null) === null ? true : undefined), 10_000, explain);
    // The status branch's whole history, the logs and the API never carried the password.
    const history = await runGit(repo.bareDir, 'log', '-p', 'capstan/status');
    expect(history).not.toContain(SECRET);
    expect(logs).not.toContain(SECRET);
    expect(JSON.stringify(await apiStatus())).not.toContain(SECRET);
    measured('git credentials revoked', `E_GIT_AUTH in /api/status ${seenMs} ms after the password changed; heal while revoked ${healMs} ms; converged ${recoveredMs} ms after the credentials worked again; secret in logs/status/history: 0`);
  });

  it('the status branch moved by someone else at every push: status still lands, nobody\'s commit is lost', async () => {
    const seed = faultSeed(14);
    storm.random = seededRandom(seed);
    storm.on = true;
    const before = Number(await runGit(repo.bareDir, 'rev-list', '--count', 'capstan/status'));
    const shas: string[] = [];
    for (let release = 5; release <= 8; release++) {
      const sha = await repo.commitFiles({ 'stacks/app.yaml': manifest(release) }, `release ${release}`);
      shas.push(sha);
      await eventually(() => convergedAt(release, sha), 60_000, explain);
    }
    storm.on = false;
    // Every commit the other writer made is still in the branch's history, and Capstan's files sit on top of them.
    const history = (await runGit(repo.bareDir, 'log', '--format=%an %s', 'capstan/status')).split('\n');
    const others = history.filter((l) => l.startsWith('Other Writer'));
    expect(others).toHaveLength(storm.moved);
    for (let n = 1; n <= storm.moved; n++) expect(await runGit(repo.bareDir, 'show', `capstan/status:notes/other-${n}.txt`)).toBe(`note ${n} from another writer`);
    const ours = Number(await runGit(repo.bareDir, 'rev-list', '--count', 'capstan/status')) - before - storm.moved;
    expect(ours).toBeGreaterThanOrEqual(shas.length);
    const retries = logs.split('\n').filter((l) => l.includes('branch moved under us')).length;
    measured('status branch non-fast-forward storm', `seed ${seed}; ${storm.attempts} push attempts by Capstan, ${storm.moved} of them met a branch someone else had just moved; ${ours} status commits landed for ${shas.length} deploys; ${others.length}/${storm.moved} of the other writer's commits kept; ${retries} retries logged`);
  });
});
