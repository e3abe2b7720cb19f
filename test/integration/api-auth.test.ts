// The HTTP API closed by default, over a real socket: every route with and
// without the token (header and the login cookie, as a browser keeps it),
// the built `capstan status` sending the token from the same places the
// daemon reads it, and `capstan run` refusing a non-loopback --listen
// without a token the operator set. Needs no Docker.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import { buildServer, listen } from '../../src/server/app.js';
import { DashboardFeed } from '../../src/server/dashboard/feed.js';
import { DaemonMetrics } from '../../src/server/metrics.js';
import { capstan } from '../helpers/cli.js';

const TOKEN = 'socket-test-token';
const dir = mkdtempSync(join(tmpdir(), 'capstan-api-auth-'));
let app: FastifyInstance;
let base: string;
const triggers: string[] = [];
const feed = new DashboardFeed(null);
writeFileSync(join(dir, 'app.js'), '// the dashboard\n');

const STATUS = {
  instance: 'auth-test', branch: 'main', ready: true, syncWindow: 'open', lastPass: null, lastSyncTime: '2026-12-01T10:00:00.000Z',
  operator: { instance: 'auth-test', version: '0.1.0', backend: 'docker' },
  stacks: [{ stack: 'web', lastAppliedRevision: 'a'.repeat(40), lastAttemptedRevision: 'a'.repeat(40), conditions: [{ type: 'Ready', status: 'True', reason: 'Converged', message: '1/1 services ready', lastTransitionTime: '2026-12-01T10:00:00Z' }], services: {} }],
  health: [],
};

beforeAll(async () => {
  app = buildServer({
    branch: 'main', webhookSecret: 'hook-secret', apiToken: TOKEN, metricsPublic: false,
    trigger: (r) => triggers.push(r), isReady: () => true, getStatus: () => STATUS, planJson: async () => '{"changes":0}',
    endpoints: () => ({ l4: [], l7: [] }), metrics: new DaemonMetrics(), logger: silentLogger(),
    dashboard: { feed, history: async () => [], assetsDir: dir },
  });
  base = await listen(app, '127.0.0.1:0');
});

afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the API over a socket', () => {
  it('answers 401 on every route but the open ones without the token, and serves them with it', async () => {
    const listing = await fetch(`${base}/nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const routes = ((await listing.json()) as { endpoints: string[] }).endpoints;
    const open = new Set(['GET /healthz', 'GET /readyz', 'POST /login', 'GET /']);
    let closed = 0;
    for (const route of routes) {
      const [method = 'GET', path = '/'] = route.split(' ');
      if (open.has(route) || path.startsWith('/hooks/')) continue;
      closed++;
      const body = method === 'POST' ? '{}' : undefined;
      const json = method === 'POST' ? { 'content-type': 'application/json' } : undefined;
      const without = await fetch(`${base}${path}`, { method, body, headers: json });
      expect([route, without.status]).toEqual([route, 401]);
      await without.body?.cancel();
      const withIt = await fetch(`${base}${path}`, { method, body, headers: { ...json, authorization: `Bearer ${TOKEN}` } });
      expect([route, withIt.status < 400]).toEqual([route, true]);
      await withIt.body?.cancel();
    }
    expect(closed).toBeGreaterThanOrEqual(6);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('a browser logs in with the form and then reads the API with its cookie alone', async () => {
    const page = await fetch(base);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('action="/login"');
    const login = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
    expect(login.status).toBe(303);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';', 1)[0] ?? '';
    expect(login.headers.get('set-cookie')).toContain('HttpOnly; SameSite=Strict');
    expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(200);
    // A cross-site form can only send text/plain (or form) bodies: refused even with the cookie.
    const before = triggers.length;
    const csrf = await fetch(`${base}/api/sync`, { method: 'POST', headers: { cookie, 'content-type': 'text/plain' }, body: '{}' });
    expect(csrf.status).toBe(415);
    expect(triggers.length).toBe(before);
  });
});

describe('the event stream', () => {
  it('needs the token, then sends a snapshot and each change as server-sent events', async () => {
    expect((await fetch(`${base}/api/events`)).status).toBe(401);
    const res = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body?.getReader();
    let text = '';
    const readUntil = async (needle: string): Promise<void> => {
      for (let i = 0; i < 50 && !text.includes(needle); i++) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) break;
        text += Buffer.from(chunk.value).toString('utf8');
      }
    };
    await readUntil('event: snapshot');
    feed.event({ time: '2026-12-01T10:00:00.000Z', kind: 'heal', stack: 'web', service: 'api', message: 'restarted a replica that crashed', bad: true });
    await readUntil('restarted a replica');
    expect(text).toContain('event: event\ndata: {"time":"2026-12-01T10:00:00.000Z","kind":"heal"');
    await reader?.cancel();
  });
});

describe('CLI commands send the token', () => {
  const listenAddress = (): string => base.replace('http://', '');

  it('capstan status reads the daemon with CAPSTAN_API_TOKEN', async () => {
    const r = await capstan(['status', '--listen', listenAddress(), '--instance', 'auth-test', '--status-branch', 'none'], { CAPSTAN_API_TOKEN: TOKEN });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`From the daemon at ${base}/api/status`);
  });

  it('capstan status reads the token from CAPSTAN_API_TOKEN_FILE, and refuses a file others can read', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    const ok = await capstan(['status', '--listen', listenAddress(), '--instance', 'auth-test', '--status-branch', 'none'], { CAPSTAN_API_TOKEN_FILE: file });
    expect(ok.code).toBe(0);
    const loose = join(dir, 'loose');
    writeFileSync(loose, TOKEN, { mode: 0o644 });
    const refused = await capstan(['status', '--listen', listenAddress(), '--instance', 'auth-test', '--status-branch', 'none'], { CAPSTAN_API_TOKEN_FILE: loose });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`capstan: the API token file ${loose} (CAPSTAN_API_TOKEN_FILE) is readable by others (mode 0644)\n  hint: run chmod 600 ${loose}`);
  });

  it('a wrong token is said, not silently replaced by the status branch', async () => {
    const r = await capstan(['status', '--listen', listenAddress(), '--instance', 'auth-test', '--status-branch', 'none', '--log-format', 'pretty'], { CAPSTAN_API_TOKEN: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the daemon at ${base}/api/status answered 401: it refused the API token sent`);
  });
});

describe('capstan run', () => {
  it('refuses a non-loopback --listen without a token the operator set, before starting anything', async () => {
    const r = await capstan(['run', '--listen', '0.0.0.0:0', '--data-dir', join(dir, 'data'), '--repo', join(dir, 'no-repo')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('capstan: --listen 0.0.0.0:0 is reachable from other hosts, and no API token is set');
    expect(r.stderr).toContain('CAPSTAN_API_TOKEN');
  });
});
