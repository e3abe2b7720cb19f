// The shared HTTP entry on raw sockets: parses each request head itself
// (http1.ts), picks a route by Host and longest path prefix, then a backend
// per request (weighted round-robin, or the sticky cookie's), and streams both
// bodies through keep-alive upstream connections, following each message's
// framing so both sides stay reusable. Upgrade and HTTP/1.0 requests get a
// connection of their own that is tunnelled as raw bytes. Failures answer
// with a plain-text body that says what is wrong.

import net from 'node:net';
import type { BackendState, Pool } from './backends.js';
import { acceptConnections } from './accept.js';
import { bodiless, ChunkedScanner, copyKept, INCOMPLETE, keptLength, MAX_HEAD, parseRequestHead, parseResponseHead, type RequestHead } from './http1.js';
import { isConnectError } from './l4.js';
import type { ReadBuffer } from './read-buffer.js';
import { Upstream, type UpstreamOwner } from './upstream.js';

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

function idempotent(method: string): boolean {
  switch (method) {
    case 'GET': case 'HEAD': case 'OPTIONS': case 'PUT': case 'DELETE': case 'TRACE':
      return true;
    default:
      return false;
  }
}

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
  return matchPath(hostRoutes(routes, hostHeader), routes.anyHost, url);
}

/** The routes for this Host header; undefined when no route names it. */
function hostRoutes(routes: L7Routes, hostHeader: string | undefined): L7Route[] | undefined {
  return routes.byHost.size === 0 ? undefined : routes.byHost.get(hostOf(hostHeader));
}

function matchPath(forHost: readonly L7Route[] | undefined, anyHost: readonly L7Route[], url: string): L7Route | undefined {
  if (forHost !== undefined) for (const r of forHost) if (matches(r.pathPrefix, url)) return r;
  for (const r of anyHost) if (matches(r.pathPrefix, url)) return r;
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

function choose(route: L7Route, cookie: string | undefined): BackendState | undefined {
  if (route.sticky) {
    const id = stickyId(cookie);
    if (id !== undefined) {
      const b = route.pool.byId(id);
      if (b !== undefined) return b;
    }
  }
  return route.pool.pick();
}

export interface L7Options {
  routes: () => L7Routes;
  accessLog: ((line: string) => void) | undefined;
  /** See accept.ts. */
  ownReads: boolean;
}

/**
 * Client connections idle between requests are closed after one to two of
 * these: one sweep for all, rather than a socket timeout that every read and
 * write would have to push back.
 */
const IDLE_SWEEP_MS = 35_000;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** What ends a rewritten response head: the blank line, with `connection: close` before it when the connection ends after it. */
const HEAD_END_LINE = Buffer.from('\r\n', 'latin1');
const CLOSE_END = Buffer.from('connection: close\r\n\r\n', 'latin1');
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable' };

/** An answer from the router itself: plain text that says what is wrong. */
function plainAnswer(status: number, body: string, close: boolean, withBody: boolean): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n${close ? 'connection: close\r\n' : ''}\r\n${withBody ? body : ''}`;
}

/** The L7 listener; it tracks its client connections so a close can be graceful. */
export class L7Server extends net.Server {
  readonly clients = new Set<ClientConnection>();
  readonly opts: L7Options;
  /** Set by closeIdleConnections: busy connections close after their current exchange. */
  closing = false;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(opts: L7Options) {
    super({ allowHalfOpen: true, noDelay: true });
    this.opts = opts;
    acceptConnections(this, { allowHalfOpen: true, ownReads: opts.ownReads }, (socket, reads) => {
      const c = new ClientConnection(socket, this, reads);
      this.clients.add(c);
      this.sweeper ??= setInterval(() => {
        for (const client of this.clients) client.sweep();
      }, IDLE_SWEEP_MS).unref();
      return c.onRead;
    });
    this.on('close', () => clearInterval(this.sweeper));
  }

  closeIdleConnections(): void {
    this.closing = true;
    for (const c of this.clients) c.closeIfIdle();
  }

  closeAllConnections(): void {
    for (const c of this.clients) c.socket.destroy();
  }
}

export function createL7Server(opts: L7Options): L7Server {
  return new L7Server(opts);
}

/**
 * One client connection: requests are handled one at a time in order, so a
 * pipelining client's later requests wait in `pending` until the current
 * answer is complete.
 */
class ClientConnection implements UpstreamOwner {
  readonly socket: net.Socket;
  private readonly server: L7Server;
  private readonly reads: ReadBuffer;
  /** Off once the connection is answered for good (refused, or closing): later bytes are dropped. */
  private reading = true;
  private paused = false;
  /** Bytes received and not yet handled: the next request's head, or more. */
  private pending: Buffer | undefined;
  /** Where to look for the end of a head that came in pieces (-1: none waits): it is parsed once whole, not again per piece. */
  private headScan = -1;
  private ended = false;
  private tunnel: net.Socket | undefined;
  /** Data arrived since the last idle sweep. */
  private seen = true;
  private peer: string | undefined;
  private forwarded: Buffer | undefined;
  private forwardedHost: string | undefined;
  // The host routes of the last request: a keep-alive connection mostly asks for the same host.
  private lastRoutes: L7Routes | undefined;
  private lastHost: string | undefined;
  private lastHostRoutes: L7Route[] | undefined;

  // The exchange in progress, when `req` is set.
  private req: RequestHead | undefined;
  private route: L7Route | undefined;
  private backend: BackendState | undefined;
  private up: Upstream | undefined;
  private upHead: Buffer | undefined;
  private retryable = false;
  private retried = false;
  private closeAfter = false;
  private reqDone = true;
  private reqLeft = 0;
  private reqChunks: ChunkedScanner | undefined;
  private resBuf: Buffer | undefined;
  private resScan = -1;
  private resStarted = false;
  private resHeadDone = false;
  private resLeft = 0;
  private resChunks: ChunkedScanner | undefined;
  private resToClose = false;
  private upReusable = false;
  private status = 0;

  constructor(socket: net.Socket, server: L7Server, reads: ReadBuffer) {
    this.socket = socket;
    this.server = server;
    this.reads = reads;
    socket.on('end', () => {
      this.ended = true;
      if (this.tunnel !== undefined) this.tunnel.end();
      else if (this.req === undefined) socket.end();
    });
    socket.on('drain', () => this.up?.resume());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      server.clients.delete(this);
      this.tunnel?.destroy();
      if (this.req !== undefined) {
        this.up?.close();
        this.up = undefined;
        this.finish();
      }
    });
  }

  /** Stops reading from the client (backpressure, or too much pipelined ahead). */
  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Only when paused: a resume() of a socket that reads already still costs a tick of stream work. */
  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  closeIfIdle(): void {
    if (this.req === undefined && this.tunnel === undefined) this.socket.destroy();
  }

  /** Closes the connection when it sat idle since the last sweep, or never sent a whole head. */
  sweep(): void {
    if (!this.seen) this.closeIfIdle();
    this.seen = false;
  }

  /** Each chunk the client sent: a view of its read buffer, so what is kept past this call is copied (own). */
  readonly onRead = (chunk: Buffer): boolean => {
    this.seen = true;
    if (!this.reading) return true;
    if (this.tunnel !== undefined) {
      if (!this.tunnel.write(chunk)) this.pause();
      this.reads.keepIfQueued(this.tunnel);
      return true;
    }
    if (this.req !== undefined && !this.reqDone) this.forwardBody(chunk);
    else {
      this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
      // A pipelining client waits for the answer in progress; bound what it may queue meanwhile.
      if (this.req !== undefined) {
        if (this.pending.length > MAX_HEAD) this.pause();
      } else this.next();
    }
    if (this.pending !== undefined) this.pending = this.reads.own(this.pending);
    return true;
  };

  /** Starts the requests waiting in `pending` until one is in progress or the bytes run out. */
  private next(): void {
    while (this.pending !== undefined && this.req === undefined && this.tunnel === undefined && !this.socket.destroyed) {
      let buf = this.pending;
      // Stray CRLFs between requests are allowed (RFC 9112 §2.2).
      let skip = 0;
      while (skip + 1 < buf.length && buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
      if (skip > 0) buf = buf.subarray(skip);
      const head = this.headScan !== -1 && buf.indexOf(HEAD_END, this.headScan) === -1 ? INCOMPLETE : parseRequestHead(buf);
      if (head === INCOMPLETE) {
        this.pending = buf.length === 0 ? undefined : buf;
        this.headScan = Math.max(0, buf.length - 3);
        if (buf.length > MAX_HEAD) this.refuse(431);
        return;
      }
      this.headScan = -1;
      if (head === undefined || head.length > MAX_HEAD) {
        this.refuse(head === undefined ? 400 : 431);
        return;
      }
      this.pending = head.length < buf.length ? buf.subarray(head.length) : undefined;
      this.start(head, buf);
    }
  }

  /** Answers a request that could not be read and closes: nothing after it can be trusted. */
  private refuse(status: number): void {
    this.pending = undefined;
    this.reading = false;
    this.socket.end(plainAnswer(status, '', true, false));
  }

  /** `buf` holds the request head from its first byte. */
  private start(req: RequestHead, buf: Buffer): void {
    const routes = this.server.opts.routes();
    if (routes !== this.lastRoutes || req.host !== this.lastHost) {
      this.lastRoutes = routes;
      this.lastHost = req.host;
      this.lastHostRoutes = hostRoutes(routes, req.host);
    }
    const route = matchPath(this.lastHostRoutes, routes.anyHost, req.target);
    if (route === undefined) {
      this.answerDirect(req, 404, `capstan router: no route for host "${hostOf(req.host)}" path "${req.target}"\n`);
      return;
    }
    const backend = choose(route, req.cookie);
    if (backend === undefined) {
      this.answerDirect(req, 503, `capstan router: no ready backend for ${route.host ?? '*'}${route.pathPrefix}\n`);
      return;
    }
    if (req.upgrade !== undefined || req.minor === 0) {
      this.startTunnel(req, buf, backend);
      return;
    }
    const hasBody = req.chunked || req.contentLength > 0;
    this.req = req;
    this.route = route;
    this.retryable = !hasBody && idempotent(req.method);
    this.retried = false;
    this.closeAfter = req.close || this.ended;
    this.reqDone = !hasBody;
    this.reqLeft = req.contentLength > 0 ? req.contentLength : 0;
    this.reqChunks = req.chunked ? new ChunkedScanner() : undefined;
    this.upHead = withHeaders(buf, req.keep, this.forwardedBytes(req));
    this.dispatch(backend);
    if (hasBody && this.pending !== undefined) {
      const body = this.pending;
      this.pending = undefined;
      this.forwardBody(body);
    }
  }

  /** The X-Forwarded-* lines and the blank line; the same for each request of a connection that sends the same Host and no X-Forwarded-For. */
  private forwardedBytes(req: RequestHead): Buffer {
    if (req.forwardedFor === undefined && this.forwarded !== undefined && req.host === this.forwardedHost) return this.forwarded;
    const bytes = Buffer.from(`${this.forwardedHeaders(req)}\r\n`, 'latin1');
    if (req.forwardedFor === undefined) {
      this.forwarded = bytes;
      this.forwardedHost = req.host;
    }
    return bytes;
  }

  private forwardedHeaders(req: RequestHead): string {
    // Asking the socket costs a system call each time.
    const peer = (this.peer ??= this.socket.remoteAddress ?? '');
    const xff = req.forwardedFor === undefined ? peer : `${req.forwardedFor}, ${peer}`;
    return `x-forwarded-for: ${xff}\r\nx-forwarded-proto: http\r\n${req.host === undefined ? '' : `x-forwarded-host: ${req.host}\r\n`}`;
  }

  /** A 404 or 503 from the router itself; a request body it did not read means the connection closes. */
  private answerDirect(req: RequestHead, status: number, body: string): void {
    const close = req.close || this.ended || this.server.closing || req.chunked || req.contentLength > 0 || req.upgrade !== undefined;
    const out = plainAnswer(status, body, close, req.method !== 'HEAD');
    if (close) {
      this.pending = undefined;
      this.reading = false;
      this.socket.end(out);
    } else this.socket.write(out);
  }

  private dispatch(backend: BackendState): void {
    this.backend = backend;
    backend.begin();
    let up = backend.takeIdle();
    up ??= new Upstream(backend.host, backend.port, backend.epoch);
    up.claim(this);
    this.up = up;
    this.resBuf = undefined;
    this.resScan = -1;
    this.resStarted = false;
    this.resHeadDone = false;
    this.resChunks = undefined;
    this.resToClose = false;
    up.socket.write(this.upHead!);
  }

  private forwardBody(chunk: Buffer): void {
    let end: number;
    if (this.reqChunks !== undefined) {
      end = this.reqChunks.feed(chunk, 0);
      if (end === -2) {
        this.socket.destroy();
        return;
      }
    } else {
      const take = Math.min(this.reqLeft, chunk.length);
      this.reqLeft -= take;
      end = this.reqLeft === 0 ? take : -1;
    }
    const piece = end === -1 || end === chunk.length ? chunk : chunk.subarray(0, end);
    if (this.up !== undefined && piece.length > 0) {
      const accepted = this.up.socket.write(piece);
      this.reads.keepIfQueued(this.up.socket);
      if (!accepted) this.pause();
    }
    if (end === -1) return;
    this.reqDone = true;
    if (end < chunk.length) {
      const rest = chunk.subarray(end);
      this.pending = this.pending === undefined ? rest : Buffer.concat([this.pending, rest]);
    }
  }

  upstreamData(u: Upstream, chunk: Buffer): void {
    if (u !== this.up) return;
    this.resStarted = true;
    if (this.resHeadDone) {
      this.responseBody(chunk, 0, 0);
      return;
    }
    let buf = this.resBuf === undefined ? chunk : Buffer.concat([this.resBuf, chunk]);
    for (;;) {
      const res = this.resScan !== -1 && buf.indexOf(HEAD_END, this.resScan) === -1 ? INCOMPLETE : parseResponseHead(buf);
      if (res === INCOMPLETE) {
        // `chunk` lives in the connection's read buffer, which the next read overwrites.
        this.resBuf = buf === chunk ? Buffer.from(chunk) : buf;
        this.resScan = Math.max(0, buf.length - 3);
        if (buf.length > MAX_HEAD) this.upstreamFailed(u, 'response head too large');
        return;
      }
      this.resScan = -1;
      if (res === undefined || res.status === 101 || res.length > MAX_HEAD) {
        this.upstreamFailed(u, res === undefined || res.status === 101 ? 'malformed response' : 'response head too large');
        return;
      }
      if (res.status < 200) {
        // 100 Continue and other interim answers go to the client as they are.
        this.socket.write(buf.subarray(0, res.length));
        u.keepIfQueued(this.socket);
        buf = buf.subarray(res.length);
        if (buf.length === 0) {
          this.resBuf = undefined;
          return;
        }
        continue;
      }
      this.resBuf = undefined;
      this.resHeadDone = true;
      this.status = res.status;
      const req = this.req!;
      if (bodiless(req.method, res.status)) this.resLeft = 0;
      else if (res.chunked) this.resChunks = new ChunkedScanner();
      else if (res.otherEncoding || res.contentLength === -1) this.resToClose = true;
      else this.resLeft = res.contentLength;
      this.upReusable = !res.close && !this.resToClose;
      if (this.resToClose || this.server.closing) this.closeAfter = true;
      let extra = this.closeAfter ? CLOSE_END : HEAD_END_LINE;
      const backend = this.backend!;
      if (this.route!.sticky && stickyId(req.cookie) !== backend.id) {
        extra = Buffer.concat([Buffer.from(`set-cookie: ${STICKY_COOKIE}=${encodeURIComponent(backend.id)}; Path=/; HttpOnly; SameSite=Lax\r\n`, 'latin1'), extra]);
      }
      this.responseStart(buf, res.keep, extra, res.length);
      return;
    }
  }

  /**
   * Writes the rewritten head (the kept bytes of `buf` and `extra`) with the
   * body bytes that came with it as one buffer: one write is cheaper than
   * cork/uncork's writev for small answers.
   */
  private responseStart(buf: Buffer, keep: readonly number[], extra: Buffer, from: number): void {
    const rest = buf.length - from;
    if (rest > 16 * 1024) {
      this.socket.write(withHeaders(buf, keep, extra));
      this.responseBody(buf, from, from);
      return;
    }
    const headLength = keptLength(keep) + extra.length;
    const out = Buffer.allocUnsafe(headLength + rest);
    extra.copy(out, copyKept(buf, keep, out, 0));
    buf.copy(out, headLength, from);
    this.responseBody(out, headLength, 0);
  }

  /** Follows the body's framing from `from`; writes `buf` to the client from `writeFrom` (a head may precede the body). */
  private responseBody(buf: Buffer, from: number, writeFrom: number): void {
    let end: number;
    if (this.resToClose) end = -1;
    else if (this.resChunks !== undefined) {
      end = this.resChunks.feed(buf, from);
      if (end === -2) {
        this.backend!.errors++;
        this.socket.destroy();
        return;
      }
    } else {
      const take = Math.min(this.resLeft, buf.length - from);
      this.resLeft -= take;
      end = this.resLeft === 0 ? from + take : -1;
    }
    const to = end === -1 ? buf.length : end;
    if (to > writeFrom) {
      const accepted = this.socket.write(writeFrom === 0 && to === buf.length ? buf : buf.subarray(writeFrom, to));
      this.up?.keepIfQueued(this.socket);
      if (!accepted) this.up?.pause();
    }
    if (end === -1) return;
    // Bytes after the answer's end belong to no request: that connection cannot be reused.
    if (end < buf.length || !this.reqDone) this.upReusable = false;
    if (!this.reqDone) this.closeAfter = true;
    const up = this.up!;
    this.up = undefined;
    if (this.upReusable) this.backend!.putIdle(up);
    else up.close();
    this.finish();
  }

  /** The backend took the request body so far: read more of it. */
  upstreamDrain(u: Upstream): void {
    if (u === this.up && !this.reqDone) this.resume();
  }

  upstreamClosed(u: Upstream, err: NodeJS.ErrnoException | undefined): void {
    if (u !== this.up) return;
    this.up = undefined;
    const backend = this.backend!;
    if (this.resHeadDone) {
      if (this.resToClose && err === undefined) this.socket.end();
      else {
        backend.errors++;
        this.socket.destroy();
      }
      this.finish();
      return;
    }
    if (this.retryable && !this.resStarted) {
      // A pooled connection the backend had closed while idle: the request never reached it.
      if (u.reused) {
        backend.end();
        this.dispatch(backend);
        return;
      }
      const next = !this.retried && err !== undefined && isConnectError(err) ? this.route!.pool.pick(backend) : undefined;
      if (next !== undefined) {
        backend.errors++;
        backend.end();
        this.retried = true;
        this.dispatch(next);
        return;
      }
    }
    backend.errors++;
    this.failed(`capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${err?.code ?? err?.message ?? 'ECONNRESET'}\n`);
  }

  /** The backend broke the protocol: 502, and that connection is dropped. */
  private upstreamFailed(u: Upstream, why: string): void {
    this.up = undefined;
    u.close();
    const backend = this.backend!;
    backend.errors++;
    this.failed(`capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${why}\n`);
  }

  private failed(body: string): void {
    this.status = 502;
    if (!this.reqDone) this.closeAfter = true;
    const close = this.closeAfter || this.server.closing;
    this.socket.write(plainAnswer(502, body, close, this.req!.method !== 'HEAD'));
    this.closeAfter = close;
    this.finish();
  }

  /** The exchange is over (or abandoned): account for it and go on with the next request. */
  private finish(): void {
    const req = this.req;
    const backend = this.backend;
    this.req = undefined;
    this.backend = undefined;
    this.route = undefined;
    if (backend !== undefined) backend.end();
    const log = this.server.opts.accessLog;
    if (log !== undefined && req !== undefined) log(`${this.socket.remoteAddress ?? '-'} ${req.method} ${req.host ?? '-'}${req.target} ${this.status} ${backend?.id ?? '-'}`);
    if (this.socket.destroyed) return;
    if (this.closeAfter || this.ended || this.server.closing) {
      this.pending = undefined;
      this.reading = false;
      this.socket.end();
      return;
    }
    this.resume();
    if (this.pending !== undefined) this.next();
  }

  /** Upgrade and HTTP/1.0 requests: a fresh backend connection of their own, then raw bytes both ways. */
  private startTunnel(req: RequestHead, buf: Buffer, backend: BackendState): void {
    backend.begin();
    const connection = req.upgrade !== undefined ? `connection: upgrade\r\nupgrade: ${req.upgrade}\r\n` : 'connection: close\r\n';
    const up = net.connect({ host: backend.host, port: backend.port, noDelay: true, allowHalfOpen: true });
    this.tunnel = up;
    up.write(withHeaders(buf, req.keep, Buffer.from(`${this.forwardedHeaders(req)}${connection}\r\n`, 'latin1')));
    if (this.pending !== undefined) {
      up.write(this.pending);
      this.reads.keepIfQueued(up);
    }
    this.pending = undefined;
    let connected = false;
    up.once('connect', () => {
      connected = true;
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      backend.errors++;
      if (connected) this.socket.destroy();
      else {
        this.reading = false;
        const body = `capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${err.code ?? err.message}\n`;
        this.socket.end(plainAnswer(502, body, true, true));
      }
    });
    up.once('close', (hadError) => {
      backend.end();
      if (hadError) this.socket.destroy();
    });
    // The client's bytes go through onRead; the backend's are a plain stream.
    up.on('drain', () => this.resume());
    up.pipe(this.socket);
    this.resume();
  }
}

/** A head made of the kept lines of `from` (which holds it from its first byte) and then `extra`. */
function withHeaders(from: Buffer, keep: readonly number[], extra: Buffer): Buffer {
  const out = Buffer.allocUnsafe(keptLength(keep) + extra.length);
  extra.copy(out, copyKept(from, keep, out, 0));
  return out;
}
