// The daemon's HTTP API (DESIGN §8): health, readiness, metrics, status, plan,
// sync and webhooks. `buildServer` only builds routes (tests drive them with
// `inject`, no socket); `listen` binds. Fastify over node:http because its
// `inject` makes in-process route tests cheap and its content-type parsers
// give hooks the raw bytes their HMACs are computed over; its start-up cost is
// paid only by `capstan run`, which imports this module lazily.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { authorize, loginCookie, loginToken, logoutCookie, type Access, type AuthOptions } from './auth.js';
import type { DashboardFeed } from './dashboard/feed.js';
import { dashboardPage } from './dashboard/page.js';
import type { DaemonMetrics } from './metrics.js';
import { loginPage } from './login-page.js';
import { safeEqual } from '../safe-equal.js';
import { HOOK_FLAVOURS, decideHook } from './webhooks.js';
import { applyTargetSchema, type ApplyAnswer, type ApplyTarget } from './apply-api.js';

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
  /** `capstan promote|abort`: resolves with the lane's answer once it took the command. */
  rolloutCommand?: (stack: string, service: string, command: 'promote' | 'abort') => Promise<{ done: boolean; message: string }>;
  /** `capstan apply` while this daemon leads (POST /api/apply): its lanes' next passes, or why it follows something else. */
  apply?: (target: ApplyTarget) => Promise<ApplyAnswer | { refused: string }>;
  /** The dashboard at GET /: its live feed, each stack's deploy history, and the directory of its built script (dist/dashboard). */
  dashboard?: {
    feed: DashboardFeed;
    history: (stack: string) => Promise<unknown>;
    assetsDir: string | undefined;
  };
}

function jsonOf(body: unknown): unknown {
  try {
    return Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

/** Comment lines that keep an idle event stream open through proxies that cut silent connections. */
const SSE_HEARTBEAT_MS = 15_000;

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
  app.get('/metrics', access('metrics'), async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.text()));
  app.get('/api/status', async () => opts.getStatus());
  app.get('/api/endpoints', async () => opts.endpoints());
  app.get('/api/plan', async (_req, reply) => reply.type('application/json').send(await opts.planJson()));

  // `/` is open so that it can answer the login form (401) to a browser without the cookie; it shows nothing else then.
  app.get('/', access('open'), async (req, reply) => {
    if (!authorize('token', { method: 'GET', headers: req.headers }, auth).ok) return page(reply.code(401), loginPage());
    return page(reply, dashboardPage());
  });
  app.get('/ui/app.js', async (_req, reply) => {
    const dir = opts.dashboard?.assetsDir;
    const script = dir === undefined ? undefined : await readFile(join(dir, 'app.js'), 'utf8').catch(() => undefined);
    if (script === undefined) return reply.code(503).send({ error: 'dashboard not built', message: 'the dashboard script is missing: run `npm run build`' });
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script);
  });
  const streams = new Set<() => void>();
  app.get('/api/events', (req, reply) => {
    const feed = opts.dashboard?.feed;
    if (feed === undefined) return reply.code(404).send({ error: 'not found', message: 'this daemon has no event feed' });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    const unsubscribe = feed.subscribe((event, data) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), SSE_HEARTBEAT_MS);
    const end = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(end);
      res.end();
    };
    streams.add(end);
    req.raw.on('close', end);
  });
  // Open event streams would hold app.close() forever.
  app.addHook('preClose', (done) => {
    for (const end of [...streams]) end();
    done();
  });
  app.get<{ Params: { stack: string } }>('/api/history/:stack', async (req, reply) => {
    if (opts.dashboard === undefined) return reply.code(404).send({ error: 'not found', message: 'this daemon has no history reader' });
    return opts.dashboard.history(req.params.stack);
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

  const apply = opts.apply;
  if (apply !== undefined) {
    app.post('/api/apply', async (req, reply) => {
      const parsed = applyTargetSchema.safeParse(jsonOf(req.body));
      if (!parsed.success) return reply.code(400).send({ error: 'bad request', message: 'expected JSON { instance, repo, branch, path, backend }' });
      log.info({ instance: parsed.data.instance, branch: parsed.data.branch, path: parsed.data.path }, 'capstan apply asked for a pass of every stack');
      const answer = await apply(parsed.data);
      return 'refused' in answer ? reply.code(409).send({ error: 'another target', message: answer.refused }) : reply.send(answer);
    });
  }

  // POST /api/rollouts/web/api/promote (or abort): acts on the canary step in progress; 409 when there is none to act on.
  const rolloutCommand = opts.rolloutCommand;
  for (const command of ['promote', 'abort'] as const) {
    if (rolloutCommand === undefined) break;
    app.post<{ Params: { stack: string; service: string } }>(`/api/rollouts/:stack/:service/${command}`, async (req, reply) => {
      const { stack, service } = req.params;
      const answer = await rolloutCommand(stack, service, command).catch((err: unknown) => ({ done: false, message: err instanceof Error ? err.message : String(err) }));
      log.info({ stack, service, command, done: answer.done }, answer.message);
      return reply.code(answer.done ? 200 : 409).send(answer);
    });
  }

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
  const { host, port } = splitListen(address);
  try {
    return await app.listen({ host, port });
  } catch (err) {
    throw listenError(address, err);
  }
}

/** `--listen HOST:PORT` (the schema checked its shape). */
export function splitListen(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

export function listenError(address: string, err: unknown): ConfigError {
  const code = (err as { code?: unknown }).code;
  return new ConfigError(`cannot listen on ${address}: ${code === 'EADDRINUSE' ? 'the address is in use' : err instanceof Error ? err.message : String(err)}`, 'choose another --listen HOST:PORT (port 0 picks a free one)');
}
