// The daemon's HTTP API (DESIGN §8): health, readiness, metrics, status, plan,
// sync and webhooks. `buildServer` only builds routes (tests drive them with
// `inject`, no socket); `listen` binds. Fastify over node:http because its
// `inject` makes in-process route tests cheap and its content-type parsers
// give hooks the raw bytes their HMACs are computed over; its start-up cost is
// paid only by `capstan run`, which imports this module lazily.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { authorize, loginCookie, loginToken, logoutCookie, type Access, type AuthOptions } from './auth.js';
import type { DaemonMetrics } from './metrics.js';
import { loginPage } from './login-page.js';
import { HOOK_FLAVOURS, decideHook, safeEqual } from './webhooks.js';

export interface ServerOptions {
  /** The followed branch: pushes to other branches are ignored. */
  branch: string;
  /** CAPSTAN_WEBHOOK_SECRET; without it hooks answer 503. POST /api/sync takes it as well as the API token. */
  webhookSecret: string | undefined;
  /** The API token (server/api-token.ts): every route but health, readiness, login and hooks needs it. */
  apiToken: string;
  /** --metrics-public: /metrics answers without the token. */
  metricsPublic: boolean;
  /** Ask for a pass (the loop coalesces bursts). */
  trigger: (reason: string) => void;
  /** True once the first pass has finished, good or bad. */
  isReady: () => boolean;
  /** What /api/status returns: the daemon's view now (status files plug in here). */
  getStatus: () => unknown;
  /** The plan of the branch head against the live engine, as the JSON renderer prints it. */
  planJson: () => Promise<string>;
  /** The routing table built from the last pass: ready replicas per published port and route (with or without the router). */
  endpoints: () => unknown;
  metrics: DaemonMetrics;
  logger: Logger;
}

// GitHub allows push payloads up to 25 MB.
const BODY_LIMIT = 25 * 1024 * 1024;

/** Route options that declare who may call it; routes that declare nothing (and unknown paths) need the token. */
const access = (a: Access): { config: { access: Access } } => ({ config: { access: a } });

export function buildServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: BODY_LIMIT, logger: false });
  // Every body stays raw bytes: hook signatures are over exactly what was sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const log = opts.logger.child({ component: 'http' });
  const auth: AuthOptions = { token: opts.apiToken, webhookSecret: opts.webhookSecret, metricsPublic: opts.metricsPublic };
  // Listed in 404 answers, so a client (and the auth test) sees every route there is.
  const endpoints: string[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') endpoints.push(`${m} ${r.url}`);
  });

  app.addHook('onRequest', async (req, reply) => {
    const decision = authorize(routeAccess(req), { method: req.method, headers: req.headers }, auth);
    if (decision.ok) return;
    if (decision.status === 401) void reply.header('www-authenticate', 'Bearer');
    return reply.code(decision.status).send({ error: decision.status === 401 ? 'unauthorized' : 'unsupported media type', message: decision.message });
  });

  app.get('/healthz', access('open'), async () => ({ ok: true }));
  app.get('/readyz', access('open'), async (_req, reply) => (opts.isReady() ? { ready: true } : reply.code(503).send({ ready: false, reason: 'the first pass has not finished' })));
  app.get('/metrics', access('metrics'), async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()));
  app.get('/api/status', async () => opts.getStatus());
  app.get('/api/endpoints', async () => opts.endpoints());
  app.get('/api/plan', async (_req, reply) => reply.type('application/json').send(await opts.planJson()));

  // `/` is open so that it can answer the login form (401) to a browser without the cookie; it shows nothing else then.
  app.get('/', access('open'), async (req, reply) => {
    if (!authorize('token', { method: 'GET', headers: req.headers }, auth).ok) return page(reply.code(401), loginPage());
    return page(reply, loginPage());
  });
  app.post('/login', access('open'), async (req, reply) => {
    const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') === true;
    const token = loginToken(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0), req.headers['content-type']);
    if (token === undefined || !safeEqual(token, opts.apiToken)) {
      log.warn({ ip: req.ip }, 'rejected a login: wrong API token');
      return form ? page(reply.code(401), loginPage('That is not the API token.')) : unauthorized(reply, 'wrong API token');
    }
    void reply.header('set-cookie', loginCookie(opts.apiToken));
    return form ? reply.code(303).header('location', '/').send() : reply.send({ ok: true });
  });
  app.post('/logout', async (_req, reply) => reply.header('set-cookie', logoutCookie()).send({ ok: true }));

  app.post('/api/sync', access('sync'), async (_req, reply) => {
    opts.trigger('api sync');
    return reply.code(202).send({ triggered: true });
  });

  for (const flavour of HOOK_FLAVOURS) {
    app.post(`/hooks/${flavour}`, access('open'), async (req, reply) => {
      if (opts.webhookSecret === undefined) {
        return reply.code(503).send({ error: 'webhooks are off', message: 'set CAPSTAN_WEBHOOK_SECRET on the daemon to accept webhooks' });
      }
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const decision = decideHook(flavour, { headers: req.headers, body }, opts.webhookSecret, opts.branch);
      if (decision.kind === 'unauthorized') {
        log.warn({ hook: flavour, ip: req.ip }, `rejected ${flavour} hook: ${decision.reason}`);
        return unauthorized(reply, decision.reason);
      }
      if (decision.kind === 'ignored') {
        log.debug({ hook: flavour }, `ignored ${flavour} hook: ${decision.reason}`);
        return reply.code(200).send({ triggered: false, reason: decision.reason });
      }
      opts.trigger(decision.reason);
      return reply.code(202).send({ triggered: true, reason: decision.reason });
    });
  }

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not found', message: `no such endpoint: ${req.method} ${req.url.split('?', 1)[0] ?? ''}`, endpoints }));
  app.setErrorHandler((err: Error & { statusCode?: number; code?: unknown }, _req, reply) => {
    const code = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (code >= 500) log.error({ err }, `HTTP handler failed: ${err.message}`);
    void reply.code(code).send({ error: typeof err.code === 'string' ? err.code : err.name, message: err.message });
  });
  return app;
}

function routeAccess(req: FastifyRequest): Access {
  return (req.routeOptions.config as { access?: Access } | undefined)?.access ?? 'token';
}

/** An HTML page that loads nothing from elsewhere and cannot be framed by another site. */
function page(reply: FastifyReply, html: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store')
    .send(html);
}

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(401).send({ error: 'unauthorized', message });
}

/** Binds `host:port` (as in --listen); resolves with the bound address (port 0 picks a free one). */
export async function listen(app: FastifyInstance, address: string): Promise<string> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new ConfigError(`cannot listen on ${address}: ${code === 'EADDRINUSE' ? 'the address is in use' : err instanceof Error ? err.message : String(err)}`, 'choose another --listen HOST:PORT (port 0 picks a free one)');
  }
}
