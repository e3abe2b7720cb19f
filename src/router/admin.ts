// The router's admin API: PUT/GET /table, GET /stats (backends and edge
// counts), GET /routes (per-route, per-version counters), GET /metrics
// (Prometheus text), PUT /certificates/<id> and GET /certificates (names
// and expiry, never keys), POST /drain, GET /healthz, on a unix socket (only local users with access to
// <data-dir>/router can reach it) or on a loopback TCP port where every
// request must carry the bearer token (compared in constant time; 401
// otherwise). A PUT is parsed with zod, applied, then persisted; a table that
// fails to parse or bind is refused and the old one keeps serving.

import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { z } from 'zod';
import { CapstanError } from '../errors.js';
import { safeEqual } from '../safe-equal.js';
import { formatAdminAddress, type AdminAddress } from './address.js';
import { renderRouterMetrics } from './metrics.js';
import type { Router } from './router.js';
import { saveTable } from './store.js';
import { parseTable } from './table.js';

const MAX_BODY = 4 * 1024 * 1024;
const drainBody = z.object({ backendId: z.string().min(1), timeoutMs: z.number().int().min(0).max(3_600_000).default(30_000) });
const certificateBody = z.object({ cert: z.string().min(1).max(1_000_000), key: z.string().min(1).max(100_000) });
const CERTIFICATE_PATH = /^\/certificates\/([A-Za-z0-9_.-]{1,255})$/;

export interface AdminOptions {
  router: Router;
  tableFile: string;
  /** Required in `Authorization: Bearer` of every request when set (the TCP transport). */
  token: string | undefined;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return { ok: false, error: `body larger than ${MAX_BODY} bytes` };
    chunks.push(chunk);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (err) {
    return { ok: false, error: `body is not JSON: ${(err as Error).message}` };
  }
}

export function createAdminServer(opts: AdminOptions): http.Server {
  const { router } = opts;
  // Table updates run one at a time so versions and listener changes never interleave.
  let queue: Promise<unknown> = Promise.resolve();
  return http.createServer((req, res) => {
    if (opts.token !== undefined && !bearerMatches(req.headers.authorization, opts.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'missing or wrong admin token', hint: 'send Authorization: Bearer <token>, the token in <data-dir>/router/admin.token or CAPSTAN_ROUTER_TOKEN' });
    }
    const url = (req.url ?? '').split('?', 1)[0]!;
    const route = `${req.method ?? ''} ${url}`;
    void (async () => {
      const certificateId = req.method === 'PUT' ? CERTIFICATE_PATH.exec(url)?.[1] : undefined;
      if (certificateId !== undefined) {
        const body = await readJson(req);
        if (!body.ok) return send(res, 400, { error: body.error });
        const parsed = certificateBody.safeParse(body.value);
        if (!parsed.success) return send(res, 400, { error: 'invalid certificate', problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
        const problem = await router.putCertificate(certificateId, parsed.data.cert, parsed.data.key);
        if (problem !== undefined) return send(res, 400, { error: `certificate ${certificateId} refused: ${problem}` });
        return send(res, 200, router.certs.get(certificateId)!.info);
      }
      switch (route) {
        case 'GET /certificates':
          return send(res, 200, router.certificates());
        case 'GET /healthz':
          return send(res, 200, { ok: true, version: router.table.version });
        case 'GET /table':
          return send(res, 200, router.table);
        case 'GET /stats':
          return send(res, 200, { version: router.table.version, backends: router.stats(), edge: router.edge() });
        case 'GET /routes':
          return send(res, 200, { version: router.table.version, routes: router.routeCounters() });
        case 'GET /metrics': {
          const text = renderRouterMetrics(router.routeCounters(), router.stats(), router.edge());
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
          return res.end(text);
        }
        case 'PUT /table': {
          const body = await readJson(req);
          if (!body.ok) return send(res, 400, { error: body.error });
          const parsed = parseTable(body.value);
          if (!parsed.ok) return send(res, 400, { error: 'invalid routing table', problems: parsed.problems });
          const step = queue.then(async () => {
            const table = { ...parsed.table, version: router.table.version + 1 };
            await router.apply(table);
            await saveTable(opts.tableFile, table);
            return table.version;
          });
          queue = step.catch(() => undefined);
          try {
            return send(res, 200, { version: await step });
          } catch (err) {
            return send(res, 409, { error: err instanceof Error ? err.message : String(err), code: err instanceof CapstanError ? err.code : undefined });
          }
        }
        case 'POST /drain': {
          const body = await readJson(req);
          if (!body.ok) return send(res, 400, { error: body.error });
          const parsed = drainBody.safeParse(body.value);
          if (!parsed.success) return send(res, 400, { error: 'invalid drain request', problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
          const r = await router.drain(parsed.data.backendId, parsed.data.timeoutMs);
          return send(res, 200, r === undefined ? { backendId: parsed.data.backendId, drained: true, inFlight: 0, known: false } : { backendId: parsed.data.backendId, ...r, known: true });
        }
        default:
          return send(res, 404, { error: `no such endpoint: ${route}`, endpoints: ['GET /healthz', 'GET /table', 'PUT /table', 'GET /stats', 'GET /routes', 'GET /metrics', 'GET /certificates', 'PUT /certificates/<id>', 'POST /drain'] });
      }
    })().catch((err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }));
  });
}

function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  return safeEqual(header.slice('Bearer '.length).trim(), token);
}

/** Listens on the socket path (replacing a stale socket file but never one a live router answers on) or the TCP address. */
export async function listenAdmin(server: http.Server, address: AdminAddress): Promise<void> {
  if (address.kind === 'tcp') {
    await listening(server, { host: address.host, port: address.port });
    return;
  }
  const socketPath = address.path;
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another router answers on ${formatAdminAddress(address)}`);
  await fs.rm(socketPath, { force: true });
  await listening(server, { path: socketPath });
  await fs.chmod(socketPath, 0o600);
}

function listening(server: http.Server, where: net.ListenOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
