// The router's admin API on a unix socket (only local users with access to
// <data-dir>/router can reach it): PUT/GET /table, GET /stats, POST /drain,
// GET /healthz. A PUT is parsed with zod, applied, then persisted; a table
// that fails to parse or bind is refused and the old one keeps serving.

import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { z } from 'zod';
import { CapstanError } from '../errors.js';
import type { Router } from './router.js';
import { saveTable } from './store.js';
import { parseTable } from './table.js';

const MAX_BODY = 4 * 1024 * 1024;
const drainBody = z.object({ backendId: z.string().min(1), timeoutMs: z.number().int().min(0).max(3_600_000).default(30_000) });

export interface AdminOptions {
  router: Router;
  socketPath: string;
  tableFile: string;
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
    const route = `${req.method ?? ''} ${(req.url ?? '').split('?', 1)[0]!}`;
    void (async () => {
      switch (route) {
        case 'GET /healthz':
          return send(res, 200, { ok: true, version: router.table.version });
        case 'GET /table':
          return send(res, 200, router.table);
        case 'GET /stats':
          return send(res, 200, { version: router.table.version, backends: router.stats() });
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
          return send(res, 404, { error: `no such endpoint: ${route}`, endpoints: ['GET /healthz', 'GET /table', 'PUT /table', 'GET /stats', 'POST /drain'] });
      }
    })().catch((err: unknown) => send(res, 500, { error: err instanceof Error ? err.message : String(err) }));
  });
}

/** Listens on the socket path, replacing a stale socket file but never one a live router answers on. */
export async function listenAdmin(server: http.Server, socketPath: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`another router answers on ${socketPath}`);
  await fs.rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await fs.chmod(socketPath, 0o600);
}
