// The HTTPS entry (--https-port): TLS with SNI picking each route's
// certificate by host, ALPN offering h2 and http/1.1. HTTP/1.1 connections
// go through the same client connection code as the HTTP entry (l7.ts);
// HTTP/2 connections are handed to a Node HTTP/2 server whose streams are
// proxied to the replicas as HTTP/1.1 over keep-alive connections, with the
// same routes, balancing, X-Forwarded-* rules, counters and retries of a
// refused connect (for requests whose body is not streaming yet). The
// handshake must finish within the head timeout; connection caps apply to
// the TCP connection before the handshake.

import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { BackendState } from './backends.js';
import { choose, ClientConnection, findRoute, STICKY_COOKIE, stickyId, type L7Entry, type L7Options, type L7Route } from './l7.js';
import { ReadBuffer } from './read-buffer.js';

/** Request headers that belong to one connection, never passed on (the X-Forwarded-* ones are set anew). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-authenticate', 'host', 'http2-settings']);
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

export class HttpsEntry implements L7Entry {
  readonly server: tls.Server;
  readonly clients = new Set<ClientConnection>();
  readonly opts: L7Options;
  closing = false;
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Keep-alive connections to each backend for HTTP/2 streams. */
  private readonly agents = new WeakMap<BackendState, http.Agent>();

  /** `contextFor`: the certificate for an SNI name; undefined refuses the handshake. */
  constructor(opts: L7Options, contextFor: (servername: string) => tls.SecureContext | undefined) {
    this.opts = opts;
    this.server = tls.createServer({
      SNICallback: (servername, cb) => {
        const context = contextFor(servername.toLowerCase());
        if (context === undefined) cb(new Error(`no certificate for ${servername}`));
        else cb(null, context);
      },
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: opts.limits.headTimeoutMs,
    });
    // Before the handshake: a connection over a cap costs no TLS work.
    this.server.on('connection', (raw: net.Socket) => {
      if (!opts.gate.admit(raw)) raw.destroy();
    });
    this.server.on('tlsClientError', (_err, socket) => socket.destroy());
    // A bound on streams per session (rapid-reset floods open and cancel streams without end).
    this.h2 = http2.createServer({ maxSessionMemory: 32, settings: { maxConcurrentStreams: 128 } });
    this.h2.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.setTimeout(opts.limits.keepAliveTimeoutMs, () => session.close());
      if (this.closing) session.close();
    });
    this.h2.on('stream', (stream, headers) => this.stream(stream, headers));
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.setNoDelay(true);
      if (socket.alpnProtocol === 'h2') {
        this.h2.emit('connection', socket);
        return;
      }
      const c = new ClientConnection(socket, this, new ReadBuffer());
      this.clients.add(c);
      socket.on('data', (chunk: Buffer) => c.onRead(chunk));
    });
  }

  closeIdleConnections(): void {
    this.closing = true;
    for (const c of this.clients) c.closeIfIdle();
    // No new streams; those in progress finish.
    for (const s of this.sessions) s.close();
  }

  closeAllConnections(): void {
    for (const c of this.clients) c.socket.destroy();
    for (const s of this.sessions) s.destroy();
  }

  private stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const authority = headers[':authority'] ?? headers.host;
    const target = headers[':path'];
    const method = headers[':method'] ?? 'GET';
    if (target === undefined || method === 'CONNECT') {
      answer(stream, 501, 'capstan router: CONNECT and requests without a path are not proxied\n');
      return;
    }
    const route = findRoute(this.opts.routes(), authority, target);
    if (route === undefined) {
      answer(stream, 404, `capstan router: no route for host "${authority ?? ''}" path "${target}"\n`);
      return;
    }
    const cookie = Array.isArray(headers.cookie) ? headers.cookie.join('; ') : headers.cookie;
    const backend = choose(route, cookie);
    if (backend === undefined) {
      answer(stream, 503, `capstan router: no ready backend for ${route.host ?? '*'}${route.pathPrefix}\n`);
      return;
    }
    const out: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(headers)) {
      if (k.startsWith(':') || HOP_BY_HOP.has(k) || FORWARDED.has(k) || v === undefined) continue;
      out[k] = k === 'cookie' && Array.isArray(v) ? v.join('; ') : v;
    }
    const peer = stream.session?.socket.remoteAddress ?? '';
    const trusted = this.opts.trusted?.(peer) ?? false;
    const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);
    const xff = first(headers['x-forwarded-for']);
    out.host = authority;
    out['x-forwarded-for'] = trusted && xff !== undefined ? `${xff}, ${peer}` : peer;
    out['x-forwarded-proto'] = (trusted ? first(headers['x-forwarded-proto']) : undefined) ?? 'https';
    if (authority !== undefined) out['x-forwarded-host'] = (trusted ? first(headers['x-forwarded-host']) : undefined) ?? authority;
    new H2Exchange(this, stream, route, method, target, out, cookie).send(backend, 1);
  }

  agentFor(backend: BackendState): http.Agent {
    let a = this.agents.get(backend);
    if (a === undefined) {
      a = new http.Agent({ keepAlive: true, maxFreeSockets: 64 });
      this.agents.set(backend, a);
    }
    return a;
  }
}

/** One HTTP/2 stream proxied to a replica (and, after a refused connect, to another). */
class H2Exchange {
  private readonly started = performance.now();
  private done = false;
  /** Cuts the attempt in progress. */
  private abort: (() => void) | undefined;

  constructor(
    private readonly entry: HttpsEntry,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly route: L7Route,
    private readonly method: string,
    private readonly target: string,
    private readonly headers: http.OutgoingHttpHeaders,
    private readonly cookie: string | undefined,
  ) {
    // The client reset the stream or went away: the backend request goes too.
    stream.once('close', () => {
      if (!this.done) this.abort?.();
    });
  }

  send(backend: BackendState, attempt: number): void {
    const { stream } = this;
    backend.begin();
    let reached = false;
    const req = http.request({ host: backend.host, port: backend.port, method: this.method, path: this.target, headers: this.headers, agent: this.entry.agentFor(backend) });
    req.on('socket', (socket: net.Socket) => {
      if (!socket.connecting) reached = true;
      else socket.once('connect', () => (reached = true));
    });
    const finish = (status: number): void => {
      if (this.done) return;
      this.done = true;
      backend.end();
      backend.countersOn(this.route.counters).record(status, performance.now() - this.started);
    };
    this.abort = () => {
      req.destroy();
      finish(499);
    };
    req.on('response', (res) => {
      const out: http2.OutgoingHttpHeaders = { ':status': res.statusCode ?? 502 };
      for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      if (this.route.sticky && stickyId(this.cookie) !== backend.id) {
        const set = `${STICKY_COOKIE}=${encodeURIComponent(backend.id)}; Path=/; HttpOnly; SameSite=Lax`;
        const prior = out['set-cookie'];
        out['set-cookie'] = prior === undefined ? [set] : [...(Array.isArray(prior) ? prior : [String(prior)]), set];
      }
      if (stream.destroyed) return;
      stream.respond(out);
      res.pipe(stream);
      res.once('end', () => finish(res.statusCode ?? 502));
      res.once('error', () => {
        backend.errors++;
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        finish(502);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (this.done) return;
      if (!reached) {
        backend.connectFailed();
        backend.countersOn(this.route.counters).connectFailed();
        // A body that already streams into this request cannot be sent again.
        const next = stream.endAfterHeaders && attempt < this.route.pool.members.length ? this.route.pool.pick(backend) : undefined;
        if (next !== undefined) {
          backend.end();
          this.entry.opts.events.retries++;
          this.send(next, attempt + 1);
          return;
        }
      } else backend.errors++;
      const why = `${err.code ?? err.message}${reached ? ' after the request was sent; not retried: the backend may have acted on it' : stream.endAfterHeaders ? '; not retried: no other replica to try' : '; not retried: the request body was streaming'}`;
      if (!stream.headersSent && !stream.destroyed) answer(stream, 502, `capstan router: upstream ${backend.id} (${backend.host}:${backend.port}) failed: ${why}\n`);
      else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      finish(502);
    });
    if (stream.endAfterHeaders) req.end();
    else stream.pipe(req);
  }
}

function answer(stream: http2.ServerHttp2Stream, status: number, body: string): void {
  if (stream.destroyed) return;
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  stream.end(body);
}
