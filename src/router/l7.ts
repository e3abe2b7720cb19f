// The shared HTTP entry: picks a route by Host and longest path prefix, then a
// backend per request (weighted round-robin, or the sticky cookie's), and
// streams both bodies through keep-alive upstream pools. WebSocket (any
// Upgrade) requests are tunnelled as raw sockets after the 101. Failures
// answer with a plain-text body that says what is wrong.

import http from 'node:http';
import type net from 'node:net';
import type { BackendState, Pool } from './backends.js';
import { isConnectError } from './l4.js';

export interface L7Route {
  host: string | undefined;
  pathPrefix: string;
  sticky: boolean;
  pool: Pool;
}

/** Routes for host-specific and any-host matching, each longest prefix first. */
export interface L7Routes {
  byHost: Map<string, L7Route[]>;
  anyHost: L7Route[];
}

export const STICKY_COOKIE = 'capstan_sticky';
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate'];

export function indexRoutes(routes: readonly L7Route[]): L7Routes {
  const byHost = new Map<string, L7Route[]>();
  const anyHost: L7Route[] = [];
  for (const r of routes) {
    if (r.host === undefined) anyHost.push(r);
    else {
      const key = r.host.toLowerCase();
      const list = byHost.get(key) ?? [];
      list.push(r);
      byHost.set(key, list);
    }
  }
  const longestFirst = (a: L7Route, b: L7Route): number => b.pathPrefix.length - a.pathPrefix.length;
  for (const list of byHost.values()) list.sort(longestFirst);
  anyHost.sort(longestFirst);
  return { byHost, anyHost };
}

function hostOf(header: string | undefined): string {
  if (header === undefined) return '';
  const h = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':', 1)[0]!;
  return h.toLowerCase();
}

function matches(prefix: string, path: string): boolean {
  if (!path.startsWith(prefix)) return false;
  // "/api" matches "/api", "/api/x" and "/api?q", not "/apix".
  if (prefix.endsWith('/') || path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 47 /* / */ || next === 63 /* ? */;
}

export function findRoute(routes: L7Routes, hostHeader: string | undefined, url: string): L7Route | undefined {
  const list = routes.byHost.get(hostOf(hostHeader));
  if (list !== undefined) for (const r of list) if (matches(r.pathPrefix, url)) return r;
  for (const r of routes.anyHost) if (matches(r.pathPrefix, url)) return r;
  return undefined;
}

function stickyId(cookie: string | undefined): string | undefined {
  if (cookie === undefined) return undefined;
  const at = cookie.indexOf(`${STICKY_COOKIE}=`);
  if (at === -1 || (at > 0 && cookie[at - 1] !== ' ' && cookie[at - 1] !== ';')) return undefined;
  const from = at + STICKY_COOKIE.length + 1;
  const to = cookie.indexOf(';', from);
  return decodeURIComponent(cookie.slice(from, to === -1 ? undefined : to).trim());
}

function choose(route: L7Route, req: http.IncomingMessage): BackendState | undefined {
  if (route.sticky) {
    const id = stickyId(req.headers.cookie);
    if (id !== undefined) {
      const b = route.pool.byId(id);
      if (b !== undefined) return b;
    }
  }
  return route.pool.pick();
}

function upstreamHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const h: http.OutgoingHttpHeaders = { ...req.headers };
  dropHopByHop(h);
  const peer = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  h['x-forwarded-for'] = prior === undefined ? peer : `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}`;
  h['x-forwarded-proto'] = 'http';
  if (req.headers.host !== undefined) h['x-forwarded-host'] = req.headers.host;
  return h;
}

/** Deleting only what is there keeps the common header object in V8's fast shape. */
function dropHopByHop(h: Record<string, unknown>): void {
  for (const name of HOP_BY_HOP) if (h[name] !== undefined) delete h[name];
}

function hasBody(req: http.IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

function answer(res: http.ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export interface L7Options {
  routes: () => L7Routes;
  accessLog: ((line: string) => void) | undefined;
}

export function createL7Server(opts: L7Options): http.Server {
  const server = http.createServer({ keepAlive: true, keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 });
  server.on('request', (req, res) => {
    const route = findRoute(opts.routes(), req.headers.host, req.url ?? '/');
    if (route === undefined) {
      answer(res, 404, `capstan router: no route for host "${hostOf(req.headers.host)}" path "${req.url ?? ''}"\n`);
      return;
    }
    const backend = choose(route, req);
    if (backend === undefined) {
      answer(res, 503, `capstan router: no ready backend for ${route.host ?? '*'}${route.pathPrefix}\n`);
      return;
    }
    const retryable = IDEMPOTENT.has(req.method ?? '') && !hasBody(req);
    forward(req, res, route, backend, retryable, opts.accessLog);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    tunnel(req, socket, head, opts.routes());
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

function forward(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  route: L7Route,
  backend: BackendState,
  retryable: boolean,
  accessLog: ((line: string) => void) | undefined,
): void {
  backend.begin();
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    backend.end();
  };
  const up = http.request({
    host: backend.host,
    port: backend.port,
    method: req.method,
    path: req.url,
    headers: upstreamHeaders(req),
    agent: backend.agent,
  });
  let responded = false;
  up.on('response', (upRes) => {
    responded = true;
    const headers = upRes.headers;
    dropHopByHop(headers);
    if (route.sticky && stickyId(req.headers.cookie) !== backend.id) {
      const cookie = `${STICKY_COOKIE}=${encodeURIComponent(backend.id)}; Path=/; HttpOnly; SameSite=Lax`;
      const prior = headers['set-cookie'];
      headers['set-cookie'] = prior === undefined ? [cookie] : [...prior, cookie];
    }
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, headers);
    // pipe, not pipeline: pipeline's per-stream bookkeeping costs a visible
    // share of throughput here; the error paths below cover what it would.
    upRes.pipe(res);
    upRes.once('error', () => {
      backend.errors++;
      res.destroy();
    });
    res.once('close', () => {
      if (!upRes.complete) upRes.destroy();
      release();
      if (accessLog !== undefined) accessLog(`${req.socket.remoteAddress ?? '-'} ${req.method ?? '-'} ${req.headers.host ?? '-'}${req.url ?? ''} ${upRes.statusCode ?? 0} ${backend.id}`);
    });
  });
  up.on('error', (err: NodeJS.ErrnoException) => {
    if (responded) return;
    backend.errors++;
    release();
    if (retryable && isConnectError(err)) {
      const next = route.pool.pick(backend);
      if (next !== undefined && !res.headersSent) {
        forward(req, res, route, next, false, accessLog);
        return;
      }
    }
    answer(res, 502, `capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${err.code ?? err.message}\n`);
  });
  // A client that goes away before the answer cancels its upstream request.
  const onClose = (): void => {
    if (!responded) up.destroy();
  };
  res.once('close', onClose);
  up.once('response', () => res.off('close', onClose));
  if (retryable) up.end();
  else req.pipe(up);
}

function tunnel(req: http.IncomingMessage, socket: net.Socket, head: Buffer, routes: L7Routes): void {
  socket.on('error', () => socket.destroy());
  const route = findRoute(routes, req.headers.host, req.url ?? '/');
  const backend = route === undefined ? undefined : choose(route, req);
  if (backend === undefined) {
    socket.end(`HTTP/1.1 ${route === undefined ? '404 Not Found' : '503 Service Unavailable'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    return;
  }
  backend.begin();
  const headers = upstreamHeaders(req);
  headers.connection = 'Upgrade';
  if (req.headers.upgrade !== undefined) headers.upgrade = req.headers.upgrade;
  const up = http.request({ host: backend.host, port: backend.port, method: req.method, path: req.url, headers, agent: false });
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      backend.end();
    }
  };
  up.on('upgrade', (upRes, upSocket, upHead) => {
    let lines = `HTTP/1.1 ${upRes.statusCode ?? 101} ${upRes.statusMessage ?? 'Switching Protocols'}\r\n`;
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) lines += `${upRes.rawHeaders[i]!}: ${upRes.rawHeaders[i + 1]!}\r\n`;
    socket.write(`${lines}\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.on('error', () => socket.destroy());
    socket.on('close', () => upSocket.destroy());
    upSocket.on('close', () => {
      release();
      socket.destroy();
    });
    upSocket.pipe(socket);
    socket.pipe(upSocket);
  });
  // The backend answered without upgrading: relay its answer and close.
  up.on('response', (upRes) => {
    let lines = `HTTP/1.1 ${upRes.statusCode ?? 502} ${upRes.statusMessage ?? ''}\r\n`;
    for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
      const name = upRes.rawHeaders[i]!;
      if (name.toLowerCase() !== 'connection') lines += `${name}: ${upRes.rawHeaders[i + 1]!}\r\n`;
    }
    socket.write(`${lines}connection: close\r\n\r\n`);
    upRes.pipe(socket);
    upRes.on('end', release);
  });
  up.on('error', () => {
    backend.errors++;
    release();
    socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  up.end();
}
