// A closed sync window holds a change until it opens: the daemon's pass
// (in-process, real local Git repo and real Docker, the clock injected)
// observes and reports SyncWindowClosed but applies nothing; once the clock
// reaches an open minute the same commit is applied.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPassContext } from '../../src/cli/context.js';
import { probeRunner } from '../../src/cli/context.js';
import { startDaemon, type Daemon } from '../../src/reconciler/daemon.js';
import { createStatusReporter } from '../../src/cli/status-reporter.js';
import { resolveSettings } from '../../src/config/settings.js';
import { silentLogger } from '../../src/logging/logger.js';
import { eventually } from '../helpers/load.js';
import { resolveApiToken } from '../../src/server/api-token.js';
import { DashboardFeed } from '../../src/server/dashboard/feed.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-window');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-window-'));
let server: TestGitServer;
let repo: TestRepo;
let daemon: Daemon | undefined;
/** The injected clock: 2026-11-25 (a Wednesday), 10:30 UTC, inside "deny 0 9-17 * * 1-5". */
let nowMs = Date.UTC(2026, 10, 25, 10, 30);

const manifest = (release: string): string => `name: ${stack}
services:
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    environment: { RELEASE: "${release}" }
`;

async function revisionRunning(): Promise<string | undefined> {
  const { stdout } = await exec('docker', ['ps', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Label "io.capstan.revision"}}']);
  return stdout.trim() || undefined;
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('windowed');
});

afterAll(async () => {
  daemon?.stop('test over');
  await daemon?.stopped;
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('sync window', () => {
  it('holds a change while closed, reports SyncWindowClosed, and applies it once the window opens', async () => {
    await repo.write('stacks/app.yaml', manifest('1'));
    const first = await repo.commit('first');
    const settings = resolveSettings(
      { repo: repo.workDir, instance, dataDir, listen: '127.0.0.1:0', syncWindow: ['deny 0 9-17 * * 1-5'], statusBranch: 'none' },
      {},
    );
    const logger = silentLogger();
    const ctx = await createPassContext(settings, logger);
    const reporter = createStatusReporter(settings, logger);
    const token = resolveApiToken(settings);
    daemon = await startDaemon({ settings: { ...settings, intervalMs: 3_600_000 }, logger, base: ctx, status: reporter, router: undefined, probeRun: probeRunner(), token, feed: new DashboardFeed(null), now: () => nowMs });
    const auth = { authorization: `Bearer ${token.value}` };
    const url = `http://${daemon.address.replace(/^http:\/\//, '')}`;
    type Status = { ready: boolean; syncWindow: string; lanes: { stack: string; outcome: string; reason: string }[]; stacks: { conditions: { type: string; reason: string }[] }[] };
    const status = async (): Promise<Status> => (await (await fetch(`${url}/api/status`, { headers: auth })).json()) as Status;

    const held = await eventually(async () => { const s = await status(); return s.ready && s.lanes[0] !== undefined ? s : undefined; }, 30_000, async () => JSON.stringify(await status()));
    expect(held.lanes[0]).toMatchObject({ stack, outcome: 'held', reason: 'SyncWindowClosed' });
    expect(await revisionRunning()).toBeUndefined();
    expect(held.syncWindow).toBe('closed');
    expect(held.stacks[0]?.conditions.map((c) => `${c.type}/${c.reason}`)).toEqual(['Ready/SyncWindowClosed', 'Reconciling/SyncWindowClosed']);

    // 18:00 on the same day: the last deny hour (17:00 + 1h) has passed; the next trigger sees the window open and wakes every lane.
    nowMs = Date.UTC(2026, 10, 25, 18, 0);
    await fetch(`${url}/api/sync`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    await eventually(async () => ((await revisionRunning()) === first ? true : undefined), 30_000, async () => JSON.stringify(await status()));
    const after = await eventually(async () => { const s = await status(); return s.stacks[0]?.conditions.map((c) => c.type).join() === 'Ready' ? s : undefined; }, 30_000, async () => JSON.stringify(await status()));
    expect(after.syncWindow).toBe('open');
  });
});
