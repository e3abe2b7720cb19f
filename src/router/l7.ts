// The shared HTTP entry on raw sockets: parses each request head itself
// (http1.ts), picks a route by Host and longest path prefix, then a backend
// per request (weighted round-robin, or the sticky cookie's), and streams both
// bodies through keep-alive upstream connections, following each message's
// framing so both sides stay reusable. An upgrade request gets a connection
// of its own; a 101 answer turns both into a tunnel of raw bytes, any other
// answer leaves an HTTP connection. Failures answer with a plain-text body
// that says what is wrong.
//
// At the edge (limits.ts): every connection has a deadline for what it waits
// on (its head, the next body bytes, the next request, tunnel traffic), swept
// by deadlines.ts; connections over a cap are closed at accept (gate.ts). A
// request whose bytes never reached a backend (the connect failed) goes to
// another replica whatever its method, and the refusing one is ejected for a
// while (backends.ts).

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { BackendState, Pool } from './backends.js';
import { acceptConnections } from './accept.js';
import type { Deadlines, Expiring } from './deadlines.js';
import type { ConnectionGate } from './gate.js';
import {
  bodiless, ChunkedScanner, copyKept, INCOMPLETE, keptLength, MAX_HEAD, MAX_REQUEST_LINE, parseRequestHead, parseResponseHead, requestLineTooLong, type RequestHead,
} from './http1.js';
import type { EdgeLimits } from './limits.js';
import type { ReadBuffer } from './read-buffer.js';
import type { RouteCounters } from './route-stats.js';
import { Upstream, type UpstreamOwner } from './upstream.js';

export interface L7Route {
  host: string | undefined;
  pathPrefix: string;
  sticky: boolean;
  pool: Pool;
  /** Requests, errors and latency of this route by version. */
  counters: RouteCounters;
  /** Plain-HTTP requests are sent to https:// instead. */
  redirectHttp: boolean;
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

/** Body bytes kept while the backend connection is not yet up, to send them to another replica if it is refused; past this, a refused request gets 502. */
const MAX_UNSENT = 256 * 1024;

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

export function stickyId(cookie: string | undefined): string | undefined {
  if (cookie === undefined) return undefined;
  const at = cookie.indexOf(`${STICKY_COOKIE}=`);
  if (at === -1 || (at > 0 && cookie[at - 1] !== ' ' && cookie[at - 1] !== ';')) return undefined;
  const from = at + STICKY_COOKIE.length + 1;
  const to = cookie.indexOf(';', from);
  return decodeURIComponent(cookie.slice(from, to === -1 ? undefined : to).trim());
}

export function choose(route: L7Route, cookie: string | undefined): BackendState | undefined {
  if (route.sticky) {
    const id = stickyId(cookie);
    if (id !== undefined) {
      const b = route.pool.byId(id);
      if (b !== undefined) return b;
    }
  }
  return route.pool.pick();
}

/** Counts of connections the edge limits closed, by what they waited on too long. */
export interface EdgeEvents {
  headTimeouts: number;
  bodyTimeouts: number;
  keepAliveTimeouts: number;
  tunnelTimeouts: number;
  l4Timeouts: number;
  /** Requests sent to another replica after a refused connect. */
  retries: number;
}

export function noEvents(): EdgeEvents {
  return { headTimeouts: 0, bodyTimeouts: 0, keepAliveTimeouts: 0, tunnelTimeouts: 0, l4Timeouts: 0, retries: 0 };
}

export interface L7Options {
  routes: () => L7Routes;
  accessLog: ((line: string) => void) | undefined;
  /** See accept.ts. */
  ownReads: boolean;
  limits: EdgeLimits;
  deadlines: Deadlines;
  gate: ConnectionGate;
  events: EdgeEvents;
  /** Whether a peer's X-Forwarded-* are passed on; undefined: nobody's are. */
  trusted: ((address: string) => boolean) | undefined;
  /** `https` on the TLS entry. */
  proto: 'http' | 'https';
  /** The key authorization for an ACME HTTP-01 token; undefined without ACME. */
  challenge: ((token: string) => string | undefined) | undefined;
  /** Where redirect_http sends clients: the HTTPS entry's port. */
  httpsPort: () => number;
}

/** What a client connection needs of the entry it came in on (the HTTP entry, or the HTTPS entry's HTTP/1.1 connections). */
export interface L7Entry {
  readonly opts: L7Options;
  readonly clients: Set<ClientConnection>;
  /** Set by closeIdleConnections: busy connections close after their current exchange. */
  closing: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** What ends a rewritten response head: the blank line, with `connection: close` before it when the connection ends after it. */
const HEAD_END_LINE = Buffer.from('\r\n', 'latin1');
const CLOSE_END = Buffer.from('connection: close\r\n\r\n', 'latin1');
const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 308: 'Permanent Redirect', 400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 414: 'URI Too Long', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

/** An answer from the router itself: plain text that says what is wrong. */
function plainAnswer(status: number, body: string, close: boolean, withBody: boolean, extra = ''): string {
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n${extra}${close ? 'connection: close\r\n' : ''}\r\n${withBody ? body : ''}`;
}

const ACME_CHALLENGE = '/.well-known/acme-challenge/';

/** The L7 listener; it tracks its client connections so a close can be graceful. */
export class L7Server extends net.Server implements L7Entry {
  readonly clients = new Set<ClientConnection>();
  readonly opts: L7Options;
  /** Set by closeIdleConnections: busy connections close after their current exchange. */
  closing = false;

  constructor(opts: L7Options) {
    super({ allowHalfOpen: true, noDelay: true });
    this.opts = opts;
    acceptConnections(this, { allowHalfOpen: true, ownReads: opts.ownReads, admit: (s) => opts.gate.admit(s) }, (socket, reads) => {
      const c = new ClientConnection(socket, this, reads);
      this.clients.add(c);
      return c.onRead;
    });
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
export class ClientConnection implements UpstreamOwner, Expiring {
  readonly socket: net.Socket;
  private readonly server: L7Entry;
  private readonly reads: ReadBuffer;
  private readonly limits: EdgeLimits;
  private readonly deadlines: Deadlines;
  /** When what the connection waits on must have happened (deadlines.ts). */
  deadline: number;
  /** Between requests with nothing received yet: the next byte starts the head timeout. */
  private idle = false;
  /** Off once the connection is answered for good (refused, or closing): later bytes are dropped. */
  private reading = true;
  private paused = false;
  /** Bytes received and not yet handled: the next request's head, or more. */
  private pending: Buffer | undefined;
  /** Where to look for the end of a head that came in pieces (-1: none waits): it is parsed once whole, not again per piece. */
  private headScan = -1;
  private ended = false;
  /** A 101 answered the upgrade: raw bytes both ways through `up`. */
  private tunnelling = false;
  private peer: string | undefined;
  /** Whether the peer is a trusted proxy; undefined until asked. */
  private trustedPeer: boolean | undefined;
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
  private startedAt = 0;
  /** No body and an idempotent method: safe to send again after a pooled connection turned out closed. */
  private retryable = false;
  /** Backends tried for this request. */
  private attempts = 0;
  /** Body bytes written while the backend connection was not up: with `upHead`, all the request so far, for a retry elsewhere. */
  private unsent: Buffer[] | undefined;
  private unsentBytes = 0;
  /** Whether the request's bytes so far are all kept (unsent or upHead): a refused connect can be retried. */
  private resendable = true;
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

  constructor(socket: net.Socket, server: L7Entry, reads: ReadBuffer) {
    this.socket = socket;
    this.server = server;
    this.reads = reads;
    this.limits = server.opts.limits;
    this.deadlines = server.opts.deadlines;
    this.deadline = this.deadlines.now + this.limits.headTimeoutMs;
    this.deadlines.add(this);
    socket.on('end', () => this.clientEnded());
    socket.on('drain', () => {
      this.up?.resume();
      // The client reads again: while the answer streams, the backend sets the pace.
      if (this.req !== undefined && this.reqDone && !this.tunnelling) this.deadline = Infinity;
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.deadlines.delete(this);
      server.clients.delete(this);
      if (this.req !== undefined) {
        if (this.status === 0) this.status = 499;
        this.abortUpstream();
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
    if (this.req === undefined) this.socket.destroy();
  }

  /** The deadline passed: what the connection waited on took too long. */
  expire(): void {
    this.deadline = Infinity;
    const events = this.server.opts.events;
    if (this.req === undefined) {
      if (this.idle) events.keepAliveTimeouts++;
      else if (this.reading) events.headTimeouts++;
      if (this.idle || !this.reading || this.pending === undefined) {
        this.socket.destroy();
        return;
      }
      // A head still coming in (slowloris): say so, and free the connection once that is written.
      this.answerAndClose(408, 'capstan router: the request head did not arrive in time\n');
      return;
    }
    if (this.tunnelling) {
      events.tunnelTimeouts++;
      this.socket.destroy();
      return;
    }
    events.bodyTimeouts++;
    if (!this.reqDone && !this.resStarted) {
      this.abortUpstream();
      this.status = 408;
      this.answerAndClose(408, 'capstan router: the request body stopped arriving\n');
      this.finish();
      return;
    }
    // A body that stopped after the answer began, or a client that reads none of its answer.
    this.socket.destroy();
  }

  /** The router's own final answer on this connection; it is freed once written, whether or not the client closes. */
  private answerAndClose(status: number, body: string): void {
    this.pending = undefined;
    this.reading = false;
    this.socket.write(plainAnswer(status, body, true, true));
    this.socket.destroySoon();
  }

  /** Ends the connection after what is written; a client that never closes its side is cut at the deadline. */
  private closeSoon(): void {
    this.pending = undefined;
    this.reading = false;
    this.idle = false;
    this.socket.end();
    this.deadline = this.deadlines.now + this.limits.bodyTimeoutMs;
  }

  /** Between requests: the next one's head may take headTimeout from its first byte, the wait for that byte keepAliveTimeout. */
  private betweenRequests(): void {
    if (this.pending === undefined) {
      this.idle = true;
      this.deadline = this.deadlines.now + this.limits.keepAliveTimeoutMs;
    } else this.deadline = this.deadlines.now + this.limits.headTimeoutMs;
  }

  private clientEnded(): void {
    this.ended = true;
    if (this.tunnelling) {
      // Half-close passes on; both sockets are freed once the backend ends too (or at the tunnel's deadline).
      this.up?.socket.end();
      return;
    }
    if (this.req === undefined) {
      this.socket.end();
      return;
    }
    if (!this.reqDone) {
      // Gone mid-request: the body can never complete, so the backend connection goes at once.
      this.status = 499;
      this.abortUpstream();
      this.socket.destroy();
    }
    // Otherwise the answer still comes, and the connection closes after it.
  }

  /** Drops the backend connection of an exchange that cannot complete (reset if the request was not whole, or a tunnel). */
  private abortUpstream(): void {
    const up = this.up;
    if (up === undefined) return;
    this.up = undefined;
    // A reset tells the backend the exchange was cut, even one that ignores a FIN.
    if (this.reqDone && !this.tunnelling) up.close();
    else up.reset();
  }

  /** Each chunk the client sent: a view of its read buffer, so what is kept past this call is copied (own). */
  readonly onRead = (chunk: Buffer): boolean => {
    if (!this.reading) return true;
    if (this.tunnelling) {
      this.deadline = this.deadlines.now + this.limits.tunnelIdleTimeoutMs;
      const up = this.up;
      if (up === undefined) return true;
      if (!up.socket.write(chunk)) this.pause();
      this.reads.keepIfQueued(up.socket);
      return true;
    }
    if (this.req !== undefined && !this.reqDone) {
      this.deadline = this.deadlines.now + this.limits.bodyTimeoutMs;
      this.forwardBody(chunk);
    } else {
      if (this.idle) {
        this.idle = false;
        this.deadline = this.deadlines.now + this.limits.headTimeoutMs;
      }
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
    while (this.pending !== undefined && this.req === undefined && this.reading && !this.socket.destroyed) {
      let buf = this.pending;
      // Stray CRLFs between requests are allowed (RFC 9112 §2.2).
      let skip = 0;
      while (skip + 1 < buf.length && buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
      if (skip > 0) buf = buf.subarray(skip);
      const head = this.headScan !== -1 && buf.indexOf(HEAD_END, this.headScan) === -1 ? INCOMPLETE : parseRequestHead(buf);
      if (head === INCOMPLETE) {
        this.pending = buf.length === 0 ? undefined : buf;
        this.headScan = Math.max(0, buf.length - 3);
        if (buf.length > MAX_REQUEST_LINE && requestLineTooLong(buf)) this.refuse(414);
        else if (buf.length > MAX_HEAD) this.refuse(431);
        return;
      }
      this.headScan = -1;
      if (head === undefined || head.length > MAX_HEAD || head.lineLength > MAX_REQUEST_LINE) {
        this.refuse(head === undefined ? 400 : head.lineLength > MAX_REQUEST_LINE ? 414 : 431);
        return;
      }
      this.pending = head.length < buf.length ? buf.subarray(head.length) : undefined;
      this.start(head, buf);
      if (this.req === undefined && this.reading) this.betweenRequests();
    }
  }

  /** Answers a request that could not be read and closes: nothing after it can be trusted. */
  private refuse(status: number): void {
    this.pending = undefined;
    this.reading = false;
    this.socket.write(plainAnswer(status, '', true, false));
    this.closeSoon();
  }

  /** `buf` holds the request head from its first byte. */
  private start(req: RequestHead, buf: Buffer): void {
    const routes = this.server.opts.routes();
    if (routes !== this.lastRoutes || req.host !== this.lastHost) {
      this.lastRoutes = routes;
      this.lastHost = req.host;
      this.lastHostRoutes = hostRoutes(routes, req.host);
    }
    const opts = this.server.opts;
    if (opts.challenge !== undefined && req.target.startsWith(ACME_CHALLENGE)) {
      const answer = opts.challenge(req.target.slice(ACME_CHALLENGE.length));
      if (answer !== undefined) {
        this.answerDirect(req, 200, answer);
        return;
      }
    }
    const route = matchPath(this.lastHostRoutes, routes.anyHost, req.target);
    if (route !== undefined && route.redirectHttp && opts.proto === 'http') {
      const port = opts.httpsPort();
      const host = hostOf(req.host) || route.host!;
      this.answerDirect(req, 308, `capstan router: this route is served over HTTPS\n`, `location: https://${host}${port === 443 ? '' : `:${port}`}${req.target}\r\n`);
      return;
    }
    if (route === undefined) {
      this.answerDirect(req, 404, `capstan router: no route for host "${hostOf(req.host)}" path "${req.target}"\n`);
      return;
    }
    const backend = choose(route, req.cookie);
    if (backend === undefined) {
      this.answerDirect(req, 503, `capstan router: no ready backend for ${route.host ?? '*'}${route.pathPrefix}\n`);
      return;
    }
    const hasBody = req.chunked || req.contentLength > 0;
    this.req = req;
    this.route = route;
    this.startedAt = performance.now();
    this.status = 0;
    this.retryable = !hasBody && idempotent(req.method);
    this.attempts = 1;
    this.unsent = undefined;
    this.unsentBytes = 0;
    this.resendable = true;
    // HTTP/1.0 gets no keep-alive: its framing rules differ from what is relayed here.
    this.closeAfter = req.close || this.ended || req.minor === 0;
    this.reqDone = !hasBody;
    this.reqLeft = req.contentLength > 0 ? req.contentLength : 0;
    this.reqChunks = req.chunked ? new ChunkedScanner() : undefined;
    this.deadline = hasBody ? this.deadlines.now + this.limits.bodyTimeoutMs : Infinity;
    this.upHead = withHeaders(buf, req.keep, req.upgrade !== undefined ? this.upgradeLines(req) : this.forwardedBytes(req));
    this.dispatch(backend);
    if (hasBody && this.pending !== undefined) {
      const body = this.pending;
      this.pending = undefined;
      this.forwardBody(body);
    }
  }

  /** The X-Forwarded-* lines and the blank line; the same for each request of a connection that sends the same Host. */
  private forwardedBytes(req: RequestHead): Buffer {
    if (this.forwarded !== undefined && req.host === this.forwardedHost) return this.forwarded;
    const bytes = Buffer.from(`${this.forwardedHeaders(req)}\r\n`, 'latin1');
    if (!this.trustedPeer) {
      this.forwarded = bytes;
      this.forwardedHost = req.host;
    }
    return bytes;
  }

  private upgradeLines(req: RequestHead): Buffer {
    return Buffer.from(`${this.forwardedHeaders(req)}connection: upgrade\r\nupgrade: ${req.upgrade!}\r\n\r\n`, 'latin1');
  }

  /** The client's own X-Forwarded-* are replaced, unless the peer is a trusted proxy: then its chain goes on. */
  private forwardedHeaders(req: RequestHead): string {
    // Asking the socket costs a system call each time.
    const peer = (this.peer ??= this.socket.remoteAddress ?? '');
    const trusted = (this.trustedPeer ??= this.server.opts.trusted?.(peer) ?? false);
    const xff = trusted && req.forwardedFor !== undefined ? `${req.forwardedFor}, ${peer}` : peer;
    const proto = (trusted ? req.forwardedProto : undefined) ?? this.server.opts.proto;
    const host = (trusted ? req.forwardedHost : undefined) ?? req.host;
    return `x-forwarded-for: ${xff}\r\nx-forwarded-proto: ${proto}\r\n${host === undefined ? '' : `x-forwarded-host: ${host}\r\n`}`;
  }

  /** A 404 or 503 (or redirect, or ACME answer) from the router itself; a request body it did not read means the connection closes. */
  private answerDirect(req: RequestHead, status: number, body: string, extra = ''): void {
    const close = req.close || req.minor === 0 || this.ended || this.server.closing || req.chunked || req.contentLength > 0 || req.upgrade !== undefined;
    const out = plainAnswer(status, body, close, req.method !== 'HEAD', extra);
    this.socket.write(out);
    if (close) this.closeSoon();
  }

  private dispatch(backend: BackendState): void {
    this.backend = backend;
    backend.begin();
    // An upgrade gets a connection of its own, half-open capable for the tunnel it may become.
    const up = this.req!.upgrade !== undefined ? new Upstream(backend, true) : (backend.takeIdle() ?? new Upstream(backend));
    up.claim(this);
    this.up = up;
    this.resBuf = undefined;
    this.resScan = -1;
    this.resStarted = false;
    this.resHeadDone = false;
    this.resChunks = undefined;
    this.resToClose = false;
    up.socket.write(this.upHead!);
    if (this.unsent !== undefined) for (const piece of this.unsent) up.socket.write(piece);
  }

  private forwardBody(chunk: Buffer): void {
    let end: number;
    if (this.reqChunks !== undefined) {
      end = this.reqChunks.feed(chunk, 0);
      if (end === -2) {
        this.malformedBody();
        return;
      }
    } else {
      const take = Math.min(this.reqLeft, chunk.length);
      this.reqLeft -= take;
      end = this.reqLeft === 0 ? take : -1;
    }
    const piece = end === -1 || end === chunk.length ? chunk : chunk.subarray(0, end);
    const up = this.up;
    if (up !== undefined && piece.length > 0) {
      if (!up.connected) this.keepUnsent(piece);
      else if (this.unsent !== undefined) {
        // Connected: what was kept may have reached the backend now.
        this.unsent = undefined;
        this.resendable = false;
      }
      const accepted = up.socket.write(piece);
      this.reads.keepIfQueued(up.socket);
      if (!accepted) {
        // The backend sets the pace now: the client's body clock stops until it drains.
        this.pause();
        this.deadline = Infinity;
      }
    }
    if (end === -1) return;
    this.reqDone = true;
    if (!this.resHeadDone) this.deadline = Infinity;
    if (end < chunk.length) {
      const rest = chunk.subarray(end);
      this.pending = this.pending === undefined ? rest : Buffer.concat([this.pending, rest]);
    }
  }

  /** A copy of body bytes written before the backend connection is up, while they stay few. */
  private keepUnsent(piece: Buffer): void {
    if (!this.resendable) return;
    this.unsentBytes += piece.length;
    if (this.unsentBytes > MAX_UNSENT) {
      this.unsent = undefined;
      this.resendable = false;
      return;
    }
    (this.unsent ??= []).push(Buffer.from(piece));
  }

  /** Bad chunk framing from the client: 400, and the backend's connection reset so it sees the request aborted. */
  private malformedBody(): void {
    this.reqDone = true;
    this.abortUpstream();
    if (this.resStarted) {
      this.socket.destroy();
      return;
    }
    this.status = 400;
    this.socket.write(plainAnswer(400, 'capstan router: malformed chunked request body\n', true, true));
    this.closeAfter = true;
    this.finish();
  }

  upstreamData(u: Upstream, chunk: Buffer): void {
    if (u !== this.up) return;
    this.resStarted = true;
    if (this.tunnelling) {
      this.deadline = this.deadlines.now + this.limits.tunnelIdleTimeoutMs;
      if (!this.socket.write(chunk)) u.pause();
      u.keepIfQueued(this.socket);
      return;
    }
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
      const req = this.req!;
      if (res !== undefined && res.status === 101 && req.upgrade !== undefined && res.length <= MAX_HEAD) {
        this.startTunnel(u, buf);
        return;
      }
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
      if (bodiless(req.method, res.status)) this.resLeft = 0;
      else if (res.chunked) this.resChunks = new ChunkedScanner();
      else if (res.otherEncoding || res.contentLength === -1) this.resToClose = true;
      else this.resLeft = res.contentLength;
      // A refused upgrade's connection was opened for a tunnel: it is not pooled.
      this.upReusable = !res.close && !this.resToClose && req.upgrade === undefined;
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

  /** 101: the backend's answer goes out as it is, then raw bytes both ways until both sides are done. */
  private startTunnel(u: Upstream, buf: Buffer): void {
    this.tunnelling = true;
    this.status = 101;
    this.resBuf = undefined;
    this.backend!.countersOn(this.route!.counters).record(101, performance.now() - this.startedAt);
    this.deadline = this.deadlines.now + this.limits.tunnelIdleTimeoutMs;
    const accepted = this.socket.write(buf);
    u.keepIfQueued(this.socket);
    if (!accepted) u.pause();
    if (this.pending !== undefined) {
      // Bytes the client sent after its upgrade request belong to the tunnel.
      u.socket.write(this.pending);
      this.pending = undefined;
    }
    if (this.ended) u.socket.end();
    this.resume();
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
      if (!accepted) {
        this.up?.pause();
        // The answer waits on the client now: it has bodyTimeout to take some.
        this.deadline = this.deadlines.now + this.limits.bodyTimeoutMs;
      }
    }
    if (end === -1) return;
    // Bytes after the answer's end belong to no request: that connection cannot be reused.
    if (end < buf.length || !this.reqDone) this.upReusable = false;
    if (!this.reqDone) this.closeAfter = true;
    const up = this.up!;
    this.up = undefined;
    if (this.upReusable) this.backend!.putIdle(up);
    else if (this.reqDone) up.close();
    else up.reset();
    this.finish();
  }

  /** The backend took the request body so far (or tunnel bytes): read more. */
  upstreamDrain(u: Upstream): void {
    if (u !== this.up) return;
    if (!this.reqDone) {
      this.deadline = this.deadlines.now + this.limits.bodyTimeoutMs;
      this.resume();
    } else if (this.tunnelling) this.resume();
  }

  upstreamEnded(u: Upstream): void {
    if (u !== this.up) return;
    // Half-close passes on to the client; the socket is freed when the client ends too.
    if (this.tunnelling) this.socket.end();
    // A refused upgrade's answer that ran to the end of the connection.
    else u.socket.end();
  }

  upstreamClosed(u: Upstream, err: NodeJS.ErrnoException | undefined): void {
    if (u !== this.up) return;
    this.up = undefined;
    const backend = this.backend!;
    if (this.tunnelling) {
      if (err !== undefined) this.socket.destroy();
      else {
        // Whatever the client still sends has nowhere to go; it gets keepAliveTimeout to close.
        this.socket.end();
        this.reading = false;
        this.deadline = this.deadlines.now + this.limits.keepAliveTimeoutMs;
      }
      this.finish();
      return;
    }
    if (this.resHeadDone) {
      if (this.resToClose && err === undefined) this.socket.end();
      else {
        backend.errors++;
        this.socket.destroy();
      }
      this.finish();
      return;
    }
    if (!u.connected) {
      // The connect failed: nothing of the request reached this backend.
      backend.connectFailed();
      backend.countersOn(this.route!.counters).connectFailed();
      const why = err?.code ?? err?.message ?? 'ECONNREFUSED';
      const next = this.attempts < this.route!.pool.members.length ? this.route!.pool.pick(backend) : undefined;
      if (next !== undefined && this.resendable) {
        backend.end();
        this.attempts++;
        this.server.opts.events.retries++;
        this.dispatch(next);
        return;
      }
      const reason = !this.resendable ? 'the request body was too large to keep for another replica' : 'no other replica to try';
      this.failed(`capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${why}; not retried: ${reason}\n`);
      return;
    }
    if (this.retryable && !this.resStarted && u.reused) {
      // A pooled connection the backend had closed while idle: the request never reached it.
      backend.end();
      this.dispatch(backend);
      return;
    }
    backend.errors++;
    const why = err?.code ?? err?.message ?? 'ECONNRESET';
    this.failed(`capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${why} after the request was sent; not retried: the backend may have acted on it\n`);
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
    const route = this.route;
    this.req = undefined;
    this.backend = undefined;
    this.route = undefined;
    this.unsent = undefined;
    if (backend !== undefined) {
      backend.end();
      if (this.status !== 101 && route !== undefined) backend.countersOn(route.counters).record(this.status, performance.now() - this.startedAt);
    }
    const log = this.server.opts.accessLog;
    if (log !== undefined && req !== undefined) log(`${this.socket.remoteAddress ?? '-'} ${req.method} ${req.host ?? '-'}${req.target} ${this.status} ${backend?.id ?? '-'}`);
    if (this.socket.destroyed || this.tunnelling) return;
    if (this.closeAfter || this.ended || this.server.closing) {
      this.closeSoon();
      return;
    }
    this.resume();
    this.betweenRequests();
    if (this.pending !== undefined) this.next();
  }
}

/** A head made of the kept lines of `from` (which holds it from its first byte) and then `extra`. */
function withHeaders(from: Buffer, keep: readonly number[], extra: Buffer): Buffer {
  const out = Buffer.allocUnsafe(keptLength(keep) + extra.length);
  extra.copy(out, copyKept(from, keep, out, 0));
  return out;
}
