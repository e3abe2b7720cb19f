// The HTTP API in-process through fastify's `inject`: every hook flavour with
// a right and a wrong secret, other branches ignored, readiness, metrics,
// the API token on every route (header and cookie, login, JSON-only POSTs),
// and a burst of hooks coalesced into at most two fetches of the branch by
// the daemon's real Revisions.

import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import type { RevisionModel } from '../../src/reconciler/desired-source.js';
import { Revisions } from '../../src/reconciler/revisions.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DashboardFeed } from '../../src/server/dashboard/feed.js';
import { DaemonMetrics } from '../../src/server/metrics.js';

const SECRET = 's3cret-for-tests';
const TOKEN = 'api-token-for-tests';
const withToken = { authorization: `Bearer ${TOKEN}` };
const hmac = (body: string, secret = SECRET): string => createHmac('sha256', secret).update(body).digest('hex');
const push = (ref: string): string => JSON.stringify({ ref, after: 'f'.repeat(40) });

const assetsDir = mkdtempSync(join(tmpdir(), 'capstan-ui-'));
writeFileSync(join(assetsDir, 'app.js'), 'console.log("dashboard")\n');
let triggers: string[] = [];
let ready = false;
const apps: ReturnType<typeof buildServer>[] = [];

function server(overrides: Partial<ServerOptions> = {}): ReturnType<typeof buildServer> {
  const app = buildServer({
    branch: 'main',
    webhookSecret: SECRET,
    apiToken: TOKEN,
    metricsPublic: false,
    trigger: (reason) => triggers.push(reason),
    isReady: () => ready,
    getStatus: () => ({ stacks: [{ name: 'web' }] }),
    planJson: async () => '{"changes":0}\n',
    endpoints: () => ({ l4: [{ listen: { host: '0.0.0.0', port: 8080 }, backends: [{ id: 'web-api-1:80' }] }], l7: [] }),
    metrics: new DaemonMetrics(async () => [{ stack: 'web', service: 'api', state: 'running', count: 2 }]),
    logger: silentLogger(),
    dashboard: { feed: new DashboardFeed(null), history: async () => [], assetsDir },
    ...overrides,
  });
  apps.push(app);
  return app;
}

afterEach(async () => {
  triggers = [];
  ready = false;
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

describe('webhooks', () => {
  const cases = [
    {
      flavour: 'github',
      good: (body: string) => ({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(body)}` }),
      bad: (body: string) => ({ 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(body, 'wrong')}` }),
    },
    {
      flavour: 'gitlab',
      good: () => ({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET }),
      bad: () => ({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': `${SECRET}x` }),
    },
    {
      flavour: 'gitea',
      good: (body: string) => ({ 'x-gitea-event': 'push', 'x-gitea-signature': hmac(body) }),
      bad: (body: string) => ({ 'x-gitea-event': 'push', 'x-gitea-signature': hmac(`${body} `) }),
    },
    {
      flavour: 'generic',
      good: () => ({ authorization: `Bearer ${SECRET}` }),
      bad: () => ({ authorization: 'Bearer nope' }),
    },
  ] as const;

  for (const c of cases) {
    it(`${c.flavour}: the right secret triggers a pass`, async () => {
      const body = push('refs/heads/main');
      const res = await server().inject({ method: 'POST', url: `/hooks/${c.flavour}`, payload: body, headers: { 'content-type': 'application/json', ...c.good(body) } });
      expect(res.statusCode).toBe(202);
      expect(triggers).toHaveLength(1);
    });

    it(`${c.flavour}: a wrong or missing secret gets 401 and triggers nothing`, async () => {
      const body = push('refs/heads/main');
      const app = server();
      const wrong = await app.inject({ method: 'POST', url: `/hooks/${c.flavour}`, payload: body, headers: { 'content-type': 'application/json', ...c.bad(body) } });
      const missing = await app.inject({ method: 'POST', url: `/hooks/${c.flavour}`, payload: body, headers: { 'content-type': 'application/json' } });
      expect([wrong.statusCode, missing.statusCode]).toEqual([401, 401]);
      expect(triggers).toEqual([]);
    });

    if (c.flavour !== 'generic') {
      it(`${c.flavour}: a push to another branch is ignored`, async () => {
        const body = push('refs/heads/feature');
        const res = await server().inject({ method: 'POST', url: `/hooks/${c.flavour}`, payload: body, headers: { 'content-type': 'application/json', ...c.good(body) } });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ triggered: false });
        expect(triggers).toEqual([]);
      });
    }
  }

  it('github: a ping is answered 200 without a pass', async () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
    const res = await server().inject({ method: 'POST', url: '/hooks/github', payload: body, headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-hub-signature-256': `sha256=${hmac(body)}` } });
    expect(res.statusCode).toBe(200);
    expect(triggers).toEqual([]);
  });

  it('github: the form-encoded payload is read too', async () => {
    const body = new URLSearchParams({ payload: push('refs/heads/main') }).toString();
    const res = await server().inject({ method: 'POST', url: '/hooks/github', payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${hmac(body)}` } });
    expect(res.statusCode).toBe(202);
    expect(triggers).toHaveLength(1);
  });

  it('without a configured secret hooks refuse with 503 and say how to turn them on', async () => {
    const res = await server({ webhookSecret: undefined }).inject({ method: 'POST', url: '/hooks/generic', headers: { authorization: 'Bearer anything' } });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ message: expect.stringContaining('CAPSTAN_WEBHOOK_SECRET') });
    expect(triggers).toEqual([]);
  });

  it('a burst of 10 hooks during a fetch causes at most 2 fetches', async () => {
    let fetches = 0;
    let blocking = true;
    let release: () => void = () => undefined;
    const revisions = new Revisions({
      source: {
        resolve: async () => {
          fetches++;
          // Fetches after the first hold until the burst is over, as a real one (a round trip) would.
          if (fetches > 1 && blocking) await new Promise<void>((r) => (release = r));
          return 'a'.repeat(40);
        },
      },
      desired: { loadRevision: async (revision): Promise<RevisionModel> => ({ revision, stacks: new Map(), errors: [] }) },
      onChanged: () => undefined,
      onError: (err) => {
        throw err;
      },
      onRecovered: () => undefined,
      logger: silentLogger(),
    });
    await revisions.refresh('start');
    const app = server({ trigger: (reason) => void revisions.refresh(reason) });
    const codes = await Promise.all(
      Array.from({ length: 10 }, () => app.inject({ method: 'POST', url: '/hooks/generic', headers: { authorization: `Bearer ${SECRET}` } }).then((r) => r.statusCode)),
    );
    expect(codes).toEqual(Array(10).fill(202));
    // Each release lets the fetch in flight end; one more fetch follows for the whole burst, then none.
    await expect.poll(() => (release(), fetches), { timeout: 5000, interval: 10 }).toBe(3);
    blocking = false;
    release();
    await revisions.refresh('settle');
    expect(fetches).toBe(4);
  });
});

describe('api', () => {
  it('/healthz answers while the process is up', async () => {
    expect((await server().inject({ url: '/healthz' })).statusCode).toBe(200);
  });

  it('/readyz is 503 until the first pass has finished, then 200', async () => {
    const app = server();
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    ready = true;
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('/metrics exposes every documented metric in Prometheus text', async () => {
    const metrics = new DaemonMetrics(async () => [{ stack: 'web', service: 'api', state: 'running', count: 2 }]);
    metrics.recordPass('web', 'converged', 0.3, true, 1_700_000_000);
    metrics.recordProgress('web', [{ service: 'api', batch: 2, batches: 3, phase: 'monitoring' }]);
    metrics.recordGitFetch(0.02);
    metrics.heal.replicaRestarted('web', 'api', 'crashed');
    metrics.heal.replicaRestarted('web', 'api', 'crashed');
    metrics.heal.probeFailed();
    metrics.heal.healed(0.7);
    const res = await server({ metrics }).inject({ url: '/metrics', headers: withToken });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    for (const name of ['capstan_reconcile_total{result="success"} 1', 'capstan_reconcile_duration_seconds_bucket', 'capstan_git_fetch_duration_seconds_count 1',
      'capstan_stack_ready{stack="web"} 1', 'capstan_lane_passes_total{stack="web",outcome="converged"} 1', 'capstan_rollout_batch{stack="web",service="api"} 2', 'capstan_rollout_batches{stack="web",service="api"} 3', 'capstan_rollout_phase{stack="web",service="api",phase="monitoring"} 1', 'capstan_last_applied_timestamp_seconds{stack="web"} 1700000000', 'capstan_containers{stack="web",service="api",state="running"} 2',
      'capstan_replica_restarts_total{stack="web",service="api",reason="crashed"} 2', 'capstan_probe_failures_total 1',
      'capstan_heal_duration_seconds_bucket{le="0.5"} 0', 'capstan_heal_duration_seconds_bucket{le="1"} 1', 'capstan_heal_duration_seconds_sum 0.7', 'capstan_heal_duration_seconds_count 1']) {
      expect(res.body).toContain(name);
    }
  });

  it('/metrics appends the router\'s per-route counters, and still answers when the router does not', async () => {
    const metrics = new DaemonMetrics();
    metrics.routerText = async () => 'capstan_router_route_requests_total{route="web/api",version="abc",slot=""} 3\n';
    const res = await server({ metrics }).inject({ url: '/metrics', headers: withToken });
    expect(res.body).toContain('capstan_reconcile_duration_seconds_bucket');
    expect(res.body).toContain('\ncapstan_router_route_requests_total{route="web/api",version="abc",slot=""} 3\n');
    metrics.routerText = () => Promise.reject(new Error('router down'));
    const down = await server({ metrics }).inject({ url: '/metrics', headers: withToken });
    expect([down.statusCode, down.body.includes('capstan_router_')]).toEqual([200, false]);
  });

  it('/api/status returns what the daemon provides', async () => {
    expect((await server().inject({ url: '/api/status', headers: withToken })).json()).toEqual({ stacks: [{ name: 'web' }] });
  });

  it('/api/plan returns the plan JSON', async () => {
    const res = await server().inject({ url: '/api/plan', headers: withToken });
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json()).toEqual({ changes: 0 });
  });

  it('/api/sync takes the API token or the webhook secret, and nothing else', async () => {
    const app = server();
    const json = { 'content-type': 'application/json' };
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: json })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: { ...json, authorization: 'Bearer nope' } })).statusCode).toBe(401);
    expect(triggers).toEqual([]);
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: { ...json, authorization: `Bearer ${SECRET}` } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: { ...json, ...withToken } })).statusCode).toBe(202);
    expect(triggers).toEqual(['api sync', 'api sync']);
  });

  it('/api/sync needs the API token when no webhook secret is set', async () => {
    const app = server({ webhookSecret: undefined });
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: { 'content-type': 'application/json' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: { 'content-type': 'application/json', ...withToken } })).statusCode).toBe(202);
    expect(triggers).toEqual(['api sync']);
  });
});

describe('metrics without an engine', () => {
  it('still serves the pass metrics when counting containers fails', async () => {
    const metrics = new DaemonMetrics(async () => {
      throw new Error('engine down');
    });
    metrics.recordPass('web', 'error', 0.1, false, undefined);
    const res = await server({ metrics }).inject({ url: '/metrics', headers: withToken });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('capstan_reconcile_total{result="error"} 1');
    expect(res.body).not.toContain('capstan_containers{');
  });
});

describe('endpoints', () => {
  it('GET /api/endpoints returns the routing table of the last pass', async () => {
    const res = await server().inject({ method: 'GET', url: '/api/endpoints', headers: withToken });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ l4: [{ listen: { port: 8080 }, backends: [{ id: 'web-api-1:80' }] }] });
  });
});

describe('the API token', () => {
  /** Every route the server has, from its own 404 answer (so a route added later is covered without editing this test). */
  async function allRoutes(app: ReturnType<typeof buildServer>): Promise<{ method: string; url: string }[]> {
    const res = await app.inject({ url: '/no-such-route', headers: withToken });
    expect(res.statusCode).toBe(404);
    return (res.json() as { endpoints: string[] }).endpoints.map((e) => {
      const [method = '', url = ''] = e.split(' ');
      return { method, url };
    });
  }
  const OPEN = ['GET /healthz', 'GET /readyz', 'POST /login', 'POST /hooks/github', 'POST /hooks/gitlab', 'POST /hooks/gitea', 'POST /hooks/generic'];

  it('every route but health, readiness, login and hooks answers 401 without the token, and works with it', async () => {
    ready = true;
    const app = server();
    const routes = await allRoutes(app);
    expect(routes.length).toBeGreaterThanOrEqual(OPEN.length + 6);
    for (const r of routes) {
      const name = `${r.method} ${r.url}`;
      const json = r.method === 'POST' ? { 'content-type': 'application/json' } : {};
      const without = await app.inject({ method: r.method as 'GET', url: r.url, headers: json, payload: r.method === 'POST' ? '{}' : undefined });
      const wrong = await app.inject({ method: r.method as 'GET', url: r.url, headers: { ...json, authorization: 'Bearer wrong' }, payload: r.method === 'POST' ? '{}' : undefined });
      if (OPEN.includes(name)) {
        // Hooks and login may refuse (their own secret), but never for want of the API token.
        expect([name, without.body.includes('needs the API token')]).toEqual([name, false]);
        continue;
      }
      if (name === 'GET /') {
        // A browser without the cookie gets the login form, and nothing of the daemon's state.
        expect(without.statusCode).toBe(401);
        expect(without.body).toContain('<form method="post" action="/login">');
        continue;
      }
      expect([name, without.statusCode, wrong.statusCode]).toEqual([name, 401, 401]);
      expect(without.headers['www-authenticate']).toBe('Bearer');
      // An event stream never ends, which inject waits for: test/integration/api-auth.test.ts reads it over a socket.
      if (name === 'GET /api/events') continue;
      const withIt = await app.inject({ method: r.method as 'GET', url: r.url, headers: { ...json, ...withToken }, payload: r.method === 'POST' ? '{}' : undefined });
      expect([name, withIt.statusCode < 400]).toEqual([name, true]);
    }
    expect(triggers).toEqual(['api sync']);
  });

  it('health and readiness answer without any token; hooks answer to their own secret only', async () => {
    const app = server();
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    // The API token is not a webhook secret.
    expect((await app.inject({ method: 'POST', url: '/hooks/generic', headers: withToken })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/hooks/generic', headers: { authorization: `Bearer ${SECRET}` } })).statusCode).toBe(202);
  });

  it('unknown paths need the token too (nothing to learn about the server without it)', async () => {
    const res = await server().inject({ url: '/api/secret-route' });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain('endpoints');
  });

  it('--metrics-public opens /metrics and nothing else', async () => {
    const app = server({ metricsPublic: true });
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/status' })).statusCode).toBe(401);
  });

  it('POSTs other than hooks and login must be JSON: a cross-site text/plain form post is refused even with the cookie', async () => {
    const app = server();
    const cookie = `capstan_token=${encodeURIComponent(TOKEN)}`;
    const plain = await app.inject({ method: 'POST', url: '/api/sync', headers: { cookie, 'content-type': 'text/plain' }, payload: 'x' });
    expect(plain.statusCode).toBe(415);
    const none = await app.inject({ method: 'POST', url: '/api/sync', headers: withToken });
    expect(none.statusCode).toBe(415);
    expect(triggers).toEqual([]);
    const json = await app.inject({ method: 'POST', url: '/api/sync', headers: { cookie, 'content-type': 'application/json; charset=utf-8' }, payload: '{}' });
    expect(json.statusCode).toBe(202);
  });

  it('logging in with the form sets an HttpOnly SameSite=Strict cookie that then opens the API; a wrong token sets none', async () => {
    const app = server();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const bad = await app.inject({ method: 'POST', url: '/login', headers: form, payload: 'token=guess' });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['set-cookie']).toBeUndefined();
    expect(bad.body).toContain('That is not the API token.');
    const good = await app.inject({ method: 'POST', url: '/login', headers: form, payload: new URLSearchParams({ token: TOKEN }).toString() });
    expect(good.statusCode).toBe(303);
    expect(good.headers['location']).toBe('/');
    const setCookie = String(good.headers['set-cookie']);
    expect(setCookie).toMatch(/^capstan_token=[^;]+; HttpOnly; SameSite=Strict; Path=\//);
    const cookie = setCookie.split(';', 1)[0] ?? '';
    expect((await app.inject({ url: '/api/status', headers: { cookie } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/status', headers: { cookie: 'capstan_token=forged' } })).statusCode).toBe(401);
    const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie, 'content-type': 'application/json' }, payload: '{}' });
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
  });

  it('JSON clients log in with {"token": ...}', async () => {
    const app = server();
    const res = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token: TOKEN }) });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['set-cookie'])).toContain('HttpOnly');
    expect((await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload: '{"token":"no"}' })).statusCode).toBe(401);
  });
});

describe('dashboard', () => {
  it('GET / with the token serves the page, which loads only its own script', async () => {
    const res = await server().inject({ url: '/', headers: withToken });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<script type="module" src="/ui/app.js"></script>');
    expect(res.body).not.toMatch(/https?:\/\//);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    const script = await server().inject({ url: '/ui/app.js', headers: withToken });
    expect([script.statusCode, script.headers['content-type'], script.body]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log("dashboard")\n']);
  });

  it('says how to build the script when it is missing', async () => {
    const res = await server({ dashboard: { feed: new DashboardFeed(null), history: async () => [], assetsDir: undefined } }).inject({ url: '/ui/app.js', headers: withToken });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ message: expect.stringContaining('npm run build') });
  });
});
