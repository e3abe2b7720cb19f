// The HTTP API in-process through fastify's `inject`: every hook flavour with
// a right and a wrong secret, other branches ignored, readiness, metrics,
// /api/sync auth, and a burst of hooks coalesced into at most two fetches of
// the branch by the daemon's real Revisions.

import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging/logger.js';
import type { RevisionModel } from '../../src/reconciler/desired-source.js';
import { Revisions } from '../../src/reconciler/revisions.js';
import { buildServer, type ServerOptions } from '../../src/server/app.js';
import { DaemonMetrics } from '../../src/server/metrics.js';

const SECRET = 's3cret-for-tests';
const hmac = (body: string, secret = SECRET): string => createHmac('sha256', secret).update(body).digest('hex');
const push = (ref: string): string => JSON.stringify({ ref, after: 'f'.repeat(40) });

let triggers: string[] = [];
let ready = false;
const apps: ReturnType<typeof buildServer>[] = [];

function server(overrides: Partial<ServerOptions> = {}): ReturnType<typeof buildServer> {
  const app = buildServer({
    branch: 'main',
    webhookSecret: SECRET,
    trigger: (reason) => triggers.push(reason),
    isReady: () => ready,
    getStatus: () => ({ stacks: [{ name: 'web' }] }),
    planJson: async () => '{"changes":0}\n',
    endpoints: () => ({ l4: [{ listen: { host: '0.0.0.0', port: 8080 }, backends: [{ id: 'web-api-1:80' }] }], l7: [] }),
    metrics: new DaemonMetrics(async () => [{ stack: 'web', service: 'api', state: 'running', count: 2 }]),
    logger: silentLogger(),
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
    const res = await server({ metrics }).inject({ url: '/metrics' });
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
    const res = await server({ metrics }).inject({ url: '/metrics' });
    expect(res.body).toContain('capstan_reconcile_duration_seconds_bucket');
    expect(res.body).toContain('\ncapstan_router_route_requests_total{route="web/api",version="abc",slot=""} 3\n');
    metrics.routerText = () => Promise.reject(new Error('router down'));
    const down = await server({ metrics }).inject({ url: '/metrics' });
    expect([down.statusCode, down.body.includes('capstan_router_')]).toEqual([200, false]);
  });

  it('/api/status returns what the daemon provides', async () => {
    expect((await server().inject({ url: '/api/status' })).json()).toEqual({ stacks: [{ name: 'web' }] });
  });

  it('/api/plan returns the plan JSON', async () => {
    const res = await server().inject({ url: '/api/plan' });
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.json()).toEqual({ changes: 0 });
  });

  it('/api/sync needs the bearer secret when one is set', async () => {
    const app = server();
    expect((await app.inject({ method: 'POST', url: '/api/sync' })).statusCode).toBe(401);
    expect(triggers).toEqual([]);
    expect((await app.inject({ method: 'POST', url: '/api/sync', headers: { authorization: `Bearer ${SECRET}` } })).statusCode).toBe(202);
    expect(triggers).toEqual(['api sync']);
  });

  it('/api/sync is open when no secret is set (the API listens on loopback by default)', async () => {
    expect((await server({ webhookSecret: undefined }).inject({ method: 'POST', url: '/api/sync' })).statusCode).toBe(202);
    expect(triggers).toEqual(['api sync']);
  });
});

describe('metrics without an engine', () => {
  it('still serves the pass metrics when counting containers fails', async () => {
    const metrics = new DaemonMetrics(async () => {
      throw new Error('engine down');
    });
    metrics.recordPass('web', 'error', 0.1, false, undefined);
    const res = await server({ metrics }).inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('capstan_reconcile_total{result="error"} 1');
    expect(res.body).not.toContain('capstan_containers{');
  });
});

describe('endpoints', () => {
  it('GET /api/endpoints returns the routing table of the last pass', async () => {
    const res = await server().inject({ method: 'GET', url: '/api/endpoints' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ l4: [{ listen: { port: 8080 }, backends: [{ id: 'web-api-1:80' }] }] });
  });
});
