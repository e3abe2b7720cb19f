// The router at the edge, on real sockets against local replicas on
// 127.0.0.0/8: slowloris and idle clients on L7 and L4 cut at their deadlines
// (set low here), connection caps, half-close through tunnels, clients that
// leave mid-request, refused upgrades, refusing replicas, framing answers,
// trusted proxies and per-route counters. Every wait is on a condition,
// bounded in time; nothing asserts how long anything took.

import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RouterClient } from '../../src/router/client.js';
import { DEFAULT_LIMITS, type EdgeLimits } from '../../src/router/limits.js';
import { startRouter } from '../../src/router/service.js';
import { freePort, httpBackend, rawExchange, rawHttpBackend, request, tcpBackend, type TestServer } from '../helpers/net.js';

// Waits below are bounded by `until`; the loaded 2-core machine needs more than the default 5 s per test.
vi.setConfig({ testTimeout: 30_000 });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function router(limits: Partial<EdgeLimits> = {}): Promise<{ client: RouterClient; httpPort: number }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'capstan-edge-'));
  const httpPort = await freePort();
  const running = await startRouter(dataDir, { httpHost: '127.0.0.1', httpPort, limits: { ...DEFAULT_LIMITS, ...limits } });
  cleanups.push(async () => {
    await running.stop(0);
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { client: new RouterClient(running.paths.socket), httpPort };
}

const b = (id: string, port: number, extra: { weight?: number; version?: string; slot?: string } = {}) => ({ id, host: '127.0.0.1', port, weight: 1, ...extra });

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function track<T extends TestServer>(s: T): T {
  cleanups.push(() => s.close());
  return s;
}

/** A raw connection from `localAddress` that records what it got and whether the other side closed it (FIN or reset). */
function open(port: number, localAddress = '127.0.0.1'): Promise<{ socket: net.Socket; received: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen: true });
    let received = '';
    let closed = false;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', () => undefined);
    socket.on('end', () => (closed = true));
    socket.on('close', () => (closed = true));
    socket.once('connect', () => resolve({ socket, received: () => received, closed: () => closed }));
    socket.once('error', reject);
    cleanups.push(async () => {
      socket.destroy();
    });
  });
}

describe('limits on the HTTP entry', () => {
  it('closes slowloris connections at the head timeout while normal requests keep being answered', async () => {
    const { client, httpPort } = await router({ headTimeoutMs: 400 });
    const app = track(await httpBackend('app'));
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('app', app.port)] }] });
    const slow = await Promise.all(Array.from({ length: 200 }, () => open(httpPort)));
    for (const s of slow) s.socket.write('GET / HTTP/1.1\r\nHost: a\r\n');
    // One more header line every 100 ms, at most 100 of them: far past the head timeout.
    let lines = 0;
    const drip = setInterval(() => {
      lines++;
      for (const s of slow) if (!s.closed()) s.socket.write(`X-${lines}: a\r\n`);
      if (lines >= 100) clearInterval(drip);
    }, 100);
    cleanups.push(async () => clearInterval(drip));
    const normal = [];
    for (let i = 0; i < 20; i++) normal.push((await request(httpPort)).status);
    await until('every slow connection closed', () => slow.every((s) => s.closed()));
    clearInterval(drip);
    expect(normal).toEqual(Array(20).fill(200));
    expect(lines).toBeLessThan(100);
    expect(slow.filter((s) => s.received().startsWith('HTTP/1.1 408 Request Timeout'))).toHaveLength(200);
    expect(app.seen).toHaveLength(20);
    const { edge } = await client.stats();
    expect(edge).toMatchObject({ headTimeouts: 200, open: 0 });
  });

  it('closes a keep-alive connection idle past its timeout, and a body that stops arriving with 408', async () => {
    const { client, httpPort } = await router({ keepAliveTimeoutMs: 300, bodyTimeoutMs: 300 });
    let backendClosed = 0;
    const app = track(await httpBackend('app', (req, res) => {
      req.socket.once('close', () => backendClosed++);
      req.on('end', () => res.end('done'));
      req.resume();
      return true;
    }));
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('app', app.port)] }] });
    const idle = await open(httpPort);
    idle.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until('the idle connection closed', idle.closed);
    expect(idle.received()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*done$/);
    const stalled = await open(httpPort);
    stalled.socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly ten..');
    await until('the stalled upload closed', stalled.closed);
    expect(stalled.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout[\s\S]*the request body stopped arriving/);
    await until('the backend connection of the stalled upload closed', () => backendClosed >= 1);
    const { edge, backends } = await client.stats();
    expect(edge).toMatchObject({ keepAliveTimeouts: 1, bodyTimeouts: 1 });
    expect(backends[0]).toMatchObject({ inFlight: 0 });
  });

  it('closes connections over the per-IP and the global cap at once, and counts them', async () => {
    const { client, httpPort } = await router({ maxConnectionsPerIp: 3, maxConnections: 5 });
    const app = track(await httpBackend('app'));
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('app', app.port)] }] });
    const first = await Promise.all([open(httpPort), open(httpPort), open(httpPort)]);
    const overIp = await open(httpPort);
    await until('the 4th connection from 127.0.0.1 closed', overIp.closed);
    const other = await Promise.all([open(httpPort, '127.0.0.2'), open(httpPort, '127.0.0.2')]);
    const overAll = await open(httpPort, '127.0.0.3');
    await until('the 6th connection closed', overAll.closed);
    expect([overIp.received(), overAll.received()]).toEqual(['', '']);
    // Those under the caps are served.
    for (const c of [...first, ...other]) c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until('five answers', () => [...first, ...other].every((c) => c.received().endsWith('app')));
    expect((await client.stats()).edge).toMatchObject({ open: 5, refusedPerIp: 1, refusedGlobal: 1 });
    // A closed one frees its place.
    first[0]!.socket.destroy();
    await until('the cap counts one less', async () => (await client.stats()).edge.open === 4);
    const again = await open(httpPort);
    again.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until('an answer on the new connection', () => again.received().endsWith('app'));
    const text = await client.metrics();
    expect(text).toContain('capstan_router_connections_refused_total{cap="per_ip"} 1');
    expect(text).toContain('capstan_router_connections_refused_total{cap="global"} 1');
  });
});

describe('limits on published ports', () => {
  it('closes idle L4 connections at the idle timeout and refuses those over the per-IP cap', async () => {
    const { client } = await router({ l4IdleTimeoutMs: 300, maxConnectionsPerIp: 100 });
    const echo = track(await tcpBackend('echo'));
    const l4Port = await freePort();
    await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port: l4Port }, backends: [b('echo', echo.port)] }] });
    const conns = await Promise.all(Array.from({ length: 100 }, () => open(l4Port)));
    for (const c of conns) c.socket.write('x');
    const over = await open(l4Port);
    await until('the 101st connection closed', over.closed);
    await until('every idle connection closed', () => conns.every((c) => c.closed()));
    await until('every backend connection freed', async () => (await client.stats()).backends[0]!.inFlight === 0);
    const { edge } = await client.stats();
    expect(edge).toMatchObject({ l4Timeouts: 100, refusedPerIp: 1, open: 0 });
  });

  it('passes half-close both ways through an L4 relay and frees both sockets when both are done', async () => {
    const { client } = await router();
    let seenEnd = 0;
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('data', (d) => s.write(`echo:${d.toString()}`));
      s.on('end', () => {
        seenEnd++;
        // The client shut its side; this one still answers, then shuts its own.
        s.end('bye');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const l4Port = await freePort();
    await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port: l4Port }, backends: [b('hc', port)] }] });
    const c = await open(l4Port);
    c.socket.end('hi');
    await until('the relay closed', c.closed);
    expect(c.received()).toBe('echo:hibye');
    expect(seenEnd).toBe(1);
    await until('the backend side freed', () => sockets.size === 0);
    expect((await client.stats()).backends[0]).toMatchObject({ inFlight: 0 });
  });
});

/** A backend that switches to a raw echo after a 101, and never closes on its own: it ignores FIN. */
async function tunnelBackend(): Promise<{ port: number; open: () => number; ends: () => number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  let ends = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('end', () => ends++);
    s.on('error', () => undefined);
    let upgraded = false;
    s.on('data', (d: Buffer) => {
      if (upgraded) {
        s.write(`echo:${d.toString()}`);
        return;
      }
      upgraded = true;
      s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return { port: (server.address() as net.AddressInfo).port, open: () => sockets.size, ends: () => ends, sockets };
}

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';

describe('lifetimes', () => {
  it('passes a client half-close through a tunnel, and frees both sockets at the tunnel idle timeout when the backend ignores it', async () => {
    const { client, httpPort } = await router({ tunnelIdleTimeoutMs: 500 });
    const t = await tunnelBackend();
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('ws', t.port)] }] });
    const clients: Awaited<ReturnType<typeof open>>[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await open(httpPort);
      c.socket.write(UPGRADE);
      await until('the 101', () => c.received().includes('\r\n\r\n'));
      c.socket.write('ping');
      await until('the echo', () => c.received().endsWith('echo:ping'));
      c.socket.end();
      clients.push(c);
    }
    // Every FIN reached the backend; the other direction stays open meanwhile.
    await until('every half-close passed on', () => t.ends() === 20);
    const last = [...t.sockets].at(-1)!;
    last.write('still here');
    await until('data after the half-close', () => clients.some((c) => c.received().endsWith('still here')));
    // The backend never ends its side: the tunnel idle timeout frees both of the router's sockets.
    await until('every client socket closed', () => clients.every((c) => c.closed()));
    // The backend learns it only when it writes: the router's end of each connection is gone (reset).
    await until('every backend socket closed', () => {
      for (const s of t.sockets) s.write('anyone?');
      return t.open() === 0;
    });
    const stats = await client.stats();
    expect(stats.backends[0]).toMatchObject({ inFlight: 0, total: 20 });
    expect(stats.edge).toMatchObject({ tunnelTimeouts: 20, open: 0 });
  });

  it('passes a backend half-close through a tunnel and frees both sockets when the client ends too; drain then completes', async () => {
    const { client, httpPort } = await router();
    const t = await tunnelBackend();
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('ws', t.port)] }] });
    const c = await open(httpPort);
    c.socket.write(UPGRADE);
    await until('the 101', () => c.received().includes('\r\n\r\n'));
    let clientSawEnd = false;
    c.socket.once('end', () => (clientSawEnd = true));
    const draining = client.drain('ws', 10_000);
    [...t.sockets][0]!.end('last words');
    await until('the backend FIN at the client', () => clientSawEnd);
    expect(c.received()).toMatch(/last words$/);
    // The client may still send: the backend gets it.
    c.socket.write('after');
    await until('the client bytes after the backend half-close', () => t.ends() === 0 && c.received() !== '' && [...t.sockets].length === 1);
    c.socket.end();
    await until('both sockets closed', () => c.closed() && t.open() === 0);
    expect(await draining).toMatchObject({ drained: true, inFlight: 0 });
  });

  it('destroys the backend connection at once when a client leaves mid-body', async () => {
    const { client, httpPort } = await router();
    let started = 0;
    let aborted = 0;
    const app = track(await httpBackend('app', (req) => {
      started++;
      req.socket.once('close', () => aborted++);
      req.resume();
      return true;
    }));
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('app', app.port)] }] });
    for (let i = 0; i < 50; i++) {
      const c = await open(httpPort);
      c.socket.write('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\npart of it');
      await until('the backend has the request', () => started === i + 1);
      // Half of them shut their side (FIN), half vanish (RST).
      if (i % 2 === 0) c.socket.end();
      else c.socket.resetAndDestroy();
    }
    await until('every backend connection closed', () => aborted === 50);
    expect((await client.stats()).backends[0]).toMatchObject({ inFlight: 0 });
  });

  it('keeps an HTTP connection after a refused upgrade: the pipelined request is parsed, routed and gets X-Forwarded-*', async () => {
    const { client, httpPort } = await router();
    const heads: string[] = [];
    const a = track(await rawHttpBackend((head) => {
      heads.push(head);
      return /upgrade: websocket/i.test(head) ? 'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno' : 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na';
    }));
    const other = track(await rawHttpBackend((head) => {
      heads.push(head);
      return 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nother';
    }));
    await client.pushTable({ l7: [{ host: 'a.example', pathPrefix: '/', backends: [b('a', a.port)] }, { host: 'b.example', pathPrefix: '/', backends: [b('b', other.port)] }] });
    const pipelined = 'GET /ws HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
      + 'GET /next HTTP/1.1\r\nHost: b.example\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';
    const r = await rawExchange(httpPort, pipelined, (got) => got.endsWith('other'));
    expect(r.received).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*\r\n\r\nnoHTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nother$/);
    expect(heads).toHaveLength(2);
    expect(heads[1]).toMatch(/^GET \/next HTTP\/1\.1\r\n/);
    expect(heads[1]).toContain('x-forwarded-for: 127.0.0.1\r\n');
    expect(heads[1]).not.toContain('6.6.6.6');
  });

  it('passes on a trusted proxy\'s X-Forwarded-*, and nobody else\'s', async () => {
    const { client, httpPort } = await router({ trustedProxies: ['127.0.0.2'] });
    const app = track(await httpBackend('app'));
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('app', app.port)] }] });
    const send = 'GET / HTTP/1.1\r\nHost: inner\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\nConnection: close\r\n\r\n';
    for (const from of ['127.0.0.2', '127.0.0.1']) {
      const c = await open(httpPort, from);
      c.socket.write(send);
      await until('the answer', c.closed);
    }
    const seen = app.seen.map((h) => `${String(h['x-forwarded-for'])} ${String(h['x-forwarded-proto'])} ${String(h['x-forwarded-host'])}`);
    expect(seen).toEqual(['203.0.113.9, 127.0.0.2 https shop.example', '127.0.0.1 http inner']);
  });
});

describe('failover', () => {
  it('loses no request, POSTs included, while one replica refuses connections under load', async () => {
    const { client, httpPort } = await router();
    const live = [track(await httpBackend('one', echoBody)), track(await httpBackend('two', echoBody))];
    const dead = await freePort();
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('one', live[0]!.port), b('dead', dead), b('two', live[1]!.port)] }] });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
    cleanups.push(async () => agent.destroy());
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => post(httpPort, agent, `body-${i}`)));
    expect(results.filter((r) => r !== 'ok')).toEqual([]);
    const stats = (await client.stats()).backends;
    expect(stats.find((s) => s.id === 'dead')).toMatchObject({ inFlight: 0, ejected: true });
    // Each refusal took it out for a window: far fewer tries than its third of the traffic.
    expect(stats.find((s) => s.id === 'dead')!.total).toBeLessThan(30);
    expect(live[0]!.seen.length + live[1]!.seen.length).toBe(300);
  });
});

function echoBody(req: http.IncomingMessage, res: http.ServerResponse): boolean {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => res.end(Buffer.concat(chunks)));
  return true;
}

function post(port: number, agent: http.Agent, body: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'text/plain' }, timeout: 20_000 });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`error ${err.message}`));
    req.on('response', (res) => {
      let got = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (got += d));
      res.on('end', () => resolve(res.statusCode === 200 && got === body ? 'ok' : `${res.statusCode ?? 0} ${got}`));
    });
    req.end(body);
  });
}

describe('framing answers', () => {
  it('answers each malformed request with its status and closes; a bad chunk also resets the backend connection', async () => {
    const { client, httpPort } = await router();
    let completed = 0;
    const app = track(await httpBackend('app', (req, res) => {
      req.on('error', () => undefined);
      req.on('end', () => {
        completed++;
        res.end('app');
      });
      req.resume();
      return true;
    }));
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('app', app.port)] }] });
    const cases: [string, string][] = [
      ['bad chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n'],
      ['NUL in a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\u0000\r\nhello\r\n0\r\n\r\n'],
      ['control character in a trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx: a\u0001\r\n\r\n'],
      ['100 KB request line', `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: a\r\n\r\n`],
      ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n'],
      ['control character in a header', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u001bb\r\n\r\n'],
      ['control character in Host', 'GET / HTTP/1.1\r\nHost: a\u007f\r\n\r\n'],
    ];
    const got: string[] = [];
    for (const [name, payload] of cases) {
      const r = await rawExchange(httpPort, Buffer.from(payload, 'latin1'), () => false);
      got.push(`${name}: ${r.received.split('\r\n', 1)[0]!} ${r.closed ? 'closed' : 'open'}`);
    }
    expect(got).toEqual([
      'bad chunk size: HTTP/1.1 400 Bad Request closed',
      'NUL in a chunk extension: HTTP/1.1 400 Bad Request closed',
      'control character in a trailer: HTTP/1.1 400 Bad Request closed',
      '100 KB request line: HTTP/1.1 414 URI Too Long closed',
      'HTTP/1.1 without Host: HTTP/1.1 400 Bad Request closed',
      'control character in a header: HTTP/1.1 400 Bad Request closed',
      'control character in Host: HTTP/1.1 400 Bad Request closed',
    ]);
    // The chunked ones went to the backend (their heads were fine) and were cut there: none completed, no connection is left.
    const connections = (): Promise<number> => new Promise((resolve) => app.server.getConnections((_err, n) => resolve(n)));
    await until('no backend connection left', async () => (await connections()) === 0);
    expect(completed).toBe(0);
    expect((await client.stats()).backends[0]).toMatchObject({ total: 3, inFlight: 0, errors: 0 });
  });
});

describe('per-route, per-version counters', () => {
  it('counts requests, errors and latency by route and version, on GET /routes and /metrics', async () => {
    const { client, httpPort } = await router();
    const stable = track(await httpBackend('stable'));
    const canary = track(await httpBackend('canary', (_req, res) => {
      res.statusCode = 500;
      res.end('broken');
      return true;
    }));
    const dead = await freePort();
    await client.pushTable({
      l7: [{
        name: 'shop/api', pathPrefix: '/', backends: [
          b('api-1', stable.port, { weight: 3, version: 'aaaa', slot: 'stable' }),
          b('api-2', canary.port, { weight: 1, version: 'bbbb', slot: 'canary' }),
          b('api-3', dead, { weight: 0, version: 'bbbb', slot: 'canary' }),
        ],
      }],
    });
    for (let i = 0; i < 20; i++) await request(httpPort);
    const { routes } = await client.routes();
    expect(routes.map((r) => ({ route: r.route, version: r.version, slot: r.slot, requests: r.requests, errors: r.errors, count: r.latency.count, inf: r.latency.buckets.at(-1) }))).toEqual([
      { route: 'shop/api', version: 'aaaa', slot: 'stable', requests: 15, errors: 0, count: 15, inf: { le: '+Inf', count: 15 } },
      { route: 'shop/api', version: 'bbbb', slot: 'canary', requests: 5, errors: 5, count: 5, inf: { le: '+Inf', count: 5 } },
    ]);
    const text = await client.metrics();
    expect(text).toContain('capstan_router_route_requests_total{route="shop/api",version="aaaa",slot="stable"} 15');
    expect(text).toContain('capstan_router_route_errors_total{route="shop/api",version="bbbb",slot="canary"} 5');
    expect(text).toContain('capstan_router_route_request_duration_seconds_count{route="shop/api",version="aaaa",slot="stable"} 15');
    expect(text).toMatch(/capstan_router_route_request_duration_seconds_bucket\{route="shop\/api",version="aaaa",slot="stable",le="\+Inf"\} 15\n/);
  });
});
