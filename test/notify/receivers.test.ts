// Commit statuses and notifications as the receivers see them: a local
// server checks every request against the shape GitHub, GitLab, Gitea and
// Slack document (test/helpers/forge-server.ts), over real sockets.

import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeployEvent } from '../../src/events/model.js';
import { forgeFromRepoUrl, type Forge } from '../../src/notify/forge.js';
import { Notifier, type NotifyTargets } from '../../src/notify/notifier.js';
import { startForgeServer, type ForgeServer } from '../helpers/forge-server.js';
import { freePort } from '../helpers/net.js';

const TOKEN = 'ghp_s3cr3tT0kenThatMustNeverBeLogged';
const SLACK_SECRET_PATH = '/slack/services/T000/B000/XXXXsecretXXXX';
const sha = (n: number): string => n.toString(16).padStart(40, 'a');
let server: ForgeServer;

beforeAll(async () => {
  server = await startForgeServer(TOKEN);
});
afterAll(async () => {
  await server.close();
});

function notifier(targets: Partial<NotifyTargets>, log: string[] = []): Notifier {
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { log.push(chunk.toString()); done(); } });
  return new Notifier({
    instance: 'prod',
    targets: { commitStatus: undefined, webhook: undefined, slack: undefined, ...targets },
    logger: pino({ level: 'debug' }, stream),
    now: () => Date.parse('2026-12-06T10:00:00Z'),
    outbox: { baseDelayMs: 5, maxDelayMs: 20, attempts: 4 },
  });
}

const deploy: DeployEvent[] = [
  { kind: 'deploy.started', stack: 'web', revision: sha(1) },
  { kind: 'deploy.converged', stack: 'web', revision: sha(1), message: '2/2 services ready' },
  { kind: 'deploy.started', stack: 'web', revision: sha(2) },
  { kind: 'deploy.rolled-back', stack: 'web', revision: sha(2), reason: `rolling update of web/api to ${sha(2).slice(0, 7)} failed: ${'x'.repeat(300)}` },
  { kind: 'deploy.started', stack: 'web', revision: sha(3) },
  { kind: 'deploy.superseded', stack: 'web', revision: sha(3), by: sha(4) },
];

describe('commit statuses', () => {
  const cases: { kind: Forge['kind']; forge: () => Forge; states: string[]; contextField: string }[] = [
    { kind: 'github', forge: () => ({ kind: 'github', api: `${server.url}/github`, repo: 'acme/infra' }), states: ['pending', 'success', 'pending', 'failure', 'pending', 'error'], contextField: 'context' },
    { kind: 'gitlab', forge: () => ({ kind: 'gitlab', api: `${server.url}/gitlab/api/v4`, repo: 'acme/platform/infra' }), states: ['pending', 'success', 'pending', 'failed', 'pending', 'canceled'], contextField: 'name' },
    { kind: 'gitea', forge: () => ({ kind: 'gitea', api: `${server.url}/gitea/api/v1`, repo: 'acme/infra' }), states: ['pending', 'success', 'pending', 'failure', 'pending', 'warning'], contextField: 'context' },
  ];
  for (const c of cases) {
    it(`posts pending → success/failure per stack to ${c.kind} as its API documents`, async () => {
      const forge = c.forge();
      const before = server.received.length;
      const n = notifier({ commitStatus: { forge, token: TOKEN, targetUrl: 'https://capstan.example/', ref: 'main' } });
      // As in a daemon, each event goes out before the next happens (see the coalescing test below for when it does not).
      for (const e of deploy) {
        n.emit(e);
        await n.drain(10_000);
      }
      expect(server.violations).toEqual([]);
      const mine = server.received.slice(before);
      expect(mine.map((r) => r.body['state'])).toEqual(c.states);
      expect(mine.every((r) => r.body[c.contextField] === 'capstan/prod/web' && r.body['target_url'] === 'https://capstan.example/')).toBe(true);
      expect(mine.map((r) => r.path.slice(-40))).toEqual([sha(1), sha(1), sha(2), sha(2), sha(3), sha(3)]);
      expect(mine[3]?.body['description']).toMatch(/^rolled back: rolling update of web\/api/);
      if (forge.kind === 'gitlab') {
        expect(mine[0]?.path).toContain('/projects/acme%2Fplatform%2Finfra/statuses/');
        expect(mine[0]?.body['ref']).toBe('main');
      }
    });
  }

  it('retries what the forge may take later, gives up on what it refuses, and never logs the token', async () => {
    const log: string[] = [];
    const forge: Forge = { kind: 'github', api: `${server.url}/github`, repo: 'acme/infra' };
    const n = notifier({ commitStatus: { forge, token: TOKEN, targetUrl: undefined, ref: undefined } }, log);
    const before = server.received.length;
    server.failNext(2, 502);
    n.emit({ kind: 'deploy.started', stack: 'api', revision: sha(7) });
    await n.drain(10_000);
    expect(server.received.slice(before).map((r) => r.body['state'])).toEqual(['pending']);

    server.failNext(1, 401);
    n.emit({ kind: 'deploy.converged', stack: 'api', revision: sha(7), message: '1/1 services ready' });
    await n.drain(10_000);
    expect(server.received.length).toBe(before + 1);
    // The same refusal again (a read-only token refuses every status) is not a second warning.
    server.failNext(1, 401);
    n.emit({ kind: 'deploy.started', stack: 'api', revision: sha(8) });
    await n.drain(10_000);
    const warnings = log.filter((l) => l.includes('"level":40'));
    expect(warnings).toHaveLength(1);
    const text = log.join('');
    expect(text).toContain('GitHub at 127.0.0.1');
    expect(text).toContain('did not take success on aaaaaaa for capstan/prod/api: HTTP 401');
    expect(text).not.toContain(TOKEN);
  });

  it('sends only the newest state of a commit and context while the forge is busy with an older one', async () => {
    const forge: Forge = { kind: 'github', api: `${server.url}/github`, repo: 'acme/infra' };
    const n = notifier({ commitStatus: { forge, token: TOKEN, targetUrl: undefined, ref: undefined } });
    const before = server.received.length;
    n.emit({ kind: 'deploy.started', stack: 'db', revision: sha(9) });
    n.emit({ kind: 'deploy.started', stack: 'db', revision: sha(10) });
    n.emit({ kind: 'deploy.converged', stack: 'db', revision: sha(10), message: '1/1 services ready' });
    await n.drain(10_000);
    expect(server.received.slice(before).map((r) => `${r.path.slice(-3)} ${String(r.body['state'])}`)).toEqual([`${sha(9).slice(-3)} pending`, `${sha(10).slice(-3)} success`]);
  });

  it('gives up after the last attempt when the forge stays away, without holding the caller', async () => {
    const log: string[] = [];
    const closed = await freePort();
    const n = notifier({ commitStatus: { forge: { kind: 'gitea', api: `http://127.0.0.1:${closed}/api/v1`, repo: 'a/b' }, token: TOKEN, targetUrl: undefined, ref: undefined } }, log);
    n.emit({ kind: 'deploy.started', stack: 'api', revision: sha(8) });
    await n.drain(10_000);
    expect(log.join('')).toContain(`Gitea at 127.0.0.1:${closed} did not take pending on aaaaaaa for capstan/prod/api: fetch failed: connect ECONNREFUSED 127.0.0.1:${closed} (gave up after 4 attempts)`);
    expect(log.join('')).not.toContain(TOKEN);
  });
});

describe('notifications', () => {
  it('sends what people want to hear of to a Slack-compatible and a signed JSON webhook, never the Slack URL in logs', async () => {
    const log: string[] = [];
    const before = server.received.length;
    const n = notifier({ slack: { url: `${server.url}${SLACK_SECRET_PATH}` }, webhook: { url: `${server.url}/webhook`, secret: 'hook-secret' } }, log);
    n.emit({ kind: 'deploy.started', stack: 'web', revision: sha(1) });
    n.emit({ kind: 'crash-loop.started', stack: 'web', service: 'worker', replica: 'web-worker-1', exitCode: 3, lastLogLines: ['fatal: <QUEUE_URL> is not set'] });
    n.emit({ kind: 'deploy.auto-reverted', stack: 'web', revision: sha(2), revert: sha(3), reason: 'rolling update failed' });
    n.emit({ kind: 'image-update.committed', stack: 'web', service: 'api', from: '1.4.2', to: '1.5.0', commit: sha(4) });
    await n.drain(10_000);
    expect(server.violations).toEqual([]);
    const mine = server.received.slice(before);
    const slack = mine.filter((r) => r.provider === 'slack');
    const hooks = mine.filter((r) => r.provider === 'webhook');
    // deploy.started is a commit status only.
    expect(slack.map((r) => r.body['text'])).toEqual([
      ':rotating_light: [prod] web/worker: web-worker-1 is crash-looping (exit code 3)',
      ':rewind: [prod] web: bbbbbbb auto-reverted by aaaaaaa: rolling update failed'.replace('bbbbbbb', sha(2).slice(0, 7)).replace('aaaaaaa', sha(3).slice(0, 7)),
      `:package: [prod] web/api: image 1.4.2 → 1.5.0 committed as ${sha(4).slice(0, 7)}`,
    ]);
    expect(JSON.stringify(slack[0]?.body['blocks'])).toContain('fatal: &lt;QUEUE_URL&gt; is not set');
    expect(hooks.map((r) => r.body['kind'])).toEqual(['crash-loop.started', 'deploy.auto-reverted', 'image-update.committed']);
    expect(hooks[1]?.body).toMatchObject({ instance: 'prod', stack: 'web', revision: sha(2), revert: sha(3), at: '2026-12-06T10:00:00.000Z' });
    for (const h of hooks) {
      expect(h.headers['x-capstan-signature-256']).toBe(`sha256=${createHmac('sha256', 'hook-secret').update(h.raw).digest('hex')}`);
      expect(h.headers['x-capstan-event']).toBe(h.body['kind']);
    }
    expect(log.join('')).not.toContain('XXXXsecretXXXX');
  });
});

describe('which forge a repository is on', () => {
  it('recognizes the host, derives the API and repository, and lets settings override both', () => {
    expect(forgeFromRepoUrl('https://github.com/acme/infra.git')).toEqual({ kind: 'github', api: 'https://api.github.com', repo: 'acme/infra' });
    expect(forgeFromRepoUrl('https://github.acme.corp/ops/infra')).toEqual({ kind: 'github', api: 'https://github.acme.corp/api/v3', repo: 'ops/infra' });
    expect(forgeFromRepoUrl('https://gitlab.com/acme/platform/infra.git')).toEqual({ kind: 'gitlab', api: 'https://gitlab.com/api/v4', repo: 'acme/platform/infra' });
    expect(forgeFromRepoUrl('https://codeberg.org/acme/infra.git')).toEqual({ kind: 'gitea', api: 'https://codeberg.org/api/v1', repo: 'acme/infra' });
    expect(forgeFromRepoUrl('https://git.acme.corp/acme/infra.git')).toBeUndefined();
    expect(forgeFromRepoUrl('https://git.acme.corp/acme/infra.git', 'gitea')).toEqual({ kind: 'gitea', api: 'https://git.acme.corp/api/v1', repo: 'acme/infra' });
    expect(forgeFromRepoUrl('/srv/git/infra', 'github', 'http://127.0.0.1:9/github', 'acme/infra')).toEqual({ kind: 'github', api: 'http://127.0.0.1:9/github', repo: 'acme/infra' });
    expect(forgeFromRepoUrl('/srv/git/infra')).toBeUndefined();
  });
});
