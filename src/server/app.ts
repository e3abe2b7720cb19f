// The daemon's HTTP API (DESIGN §8): health, readiness, metrics, status, plan,
// sync and webhooks. `buildServer` only builds routes (tests drive them with
// `inject`, no socket); `listen` binds. Fastify over node:http because its
// `inject` makes in-process route tests cheap and its content-type parsers
// give hooks the raw bytes their HMACs are computed over; its start-up cost is
// paid only by `capstan run`, which imports this module lazily.

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { DaemonMetrics } from './metrics.js';
import { HOOK_FLAVOURS, bearerMatches, decideHook } from './webhooks.js';

export interface ServerOptions {
  /** The followed branch: pushes to other branches are ignored. */
  branch: string;
  /** CAPSTAN_WEBHOOK_SECRET; without it hooks answer 503 and /api/sync is open. */
  webhookSecret: string | undefined;
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
}

// GitHub allows push payloads up to 25 MB.
const BODY_LIMIT = 25 * 1024 * 1024;

export function buildServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: BODY_LIMIT, logger: false });
  // Every body stays raw bytes: hook signatures are over exactly what was sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const log = opts.logger.child({ component: 'http' });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => (opts.isReady() ? { ready: true } : reply.code(503).send({ ready: false, reason: 'the first pass has not finished' })));
  app.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.text()));
  app.get('/api/status', async () => opts.getStatus());
  app.get('/api/endpoints', async () => opts.endpoints());
  app.get('/api/plan', async (_req, reply) => reply.type('application/json').send(await opts.planJson()));

  app.post('/api/sync', async (req, reply) => {
    if (opts.webhookSecret !== undefined && !bearerMatches(req.headers, opts.webhookSecret)) {
      return unauthorized(reply, 'Authorization: Bearer <CAPSTAN_WEBHOOK_SECRET> is missing or does not match');
    }
    opts.trigger('api sync');
    return reply.code(202).send({ triggered: true });
  });

  // POST /api/rollouts/web/api/promote (or abort): acts on the canary step in progress; 409 when there is none to act on.
  app.post<{ Params: { stack: string; service: string; command: string } }>('/api/rollouts/:stack/:service/:command', async (req, reply) => {
    const { stack, service, command } = req.params;
    if (command !== 'promote' && command !== 'abort') return reply.code(404).send({ error: 'not found', message: 'use /api/rollouts/<stack>/<service>/promote or /abort' });
    if (opts.rolloutCommand === undefined) return reply.code(503).send({ error: 'unavailable', message: 'this server does not step rollouts' });
    const answer = await opts.rolloutCommand(stack, service, command).catch((err: unknown) => ({ done: false, message: err instanceof Error ? err.message : String(err) }));
    log.info({ stack, service, command, done: answer.done }, answer.message);
    return reply.code(answer.done ? 200 : 409).send(answer);
  });

  for (const flavour of HOOK_FLAVOURS) {
    app.post(`/hooks/${flavour}`, async (req, reply) => {
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

  app.setErrorHandler((err: Error & { statusCode?: number; code?: unknown }, _req, reply) => {
    const code = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (code >= 500) log.error({ err }, `HTTP handler failed: ${err.message}`);
    void reply.code(code).send({ error: typeof err.code === 'string' ? err.code : err.name, message: err.message });
  });
  return app;
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
