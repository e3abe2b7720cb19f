// The router on real sockets: local HTTP and TCP servers on 127.0.0.1 are the
// replicas, a RouterClient drives the admin socket as the operator will.

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RouterClient } from '../../src/router/client.js';
import { startRouter, type RunningRouter } from '../../src/router/service.js';
import type { RoutingTableInput } from '../../src/router/table.js';
import { countBy, freePort, httpBackend, rawExchange, rawHttpBackend, request, tcpBackend, tcpExchange, type TestServer } from '../helpers/net.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The wire and L4 tests run twice: with client connections reading into their own buffers, and through Node's public stream path (accept.ts).
let ownReads = true;

async function router(): Promise<{ running: RunningRouter; client: RouterClient; httpPort: number; dataDir: string }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'capstan-router-'));
  const httpPort = await freePort();
  const running = await startRouter(dataDir, { httpHost: '127.0.0.1', httpPort, ownReads });
  cleanups.push(async () => {
    await running.stop(0);
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { running, client: new RouterClient(running.paths.socket), httpPort, dataDir };
}

/** A router whose one route goes to a backend that answers with the request body. */
async function echoRoute(): Promise<{ httpPort: number; echo: TestServer & { seen: http.IncomingHttpHeaders[] } }> {
  const { client, httpPort } = await router();
  const echo = await httpBackend('echo', (req, res) => {
    req.pipe(res);
    return true;
  });
  cleanups.push(() => echo.close());
  await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('echo', echo.port)] }] });
  return { httpPort, echo };
}

/** A backend that holds its request until release(); slowStarted resolves once the request is there. */
async function slowBackend(answer: string): Promise<{ slow: TestServer; slowStarted: Promise<void>; release: () => void }> {
  let release: () => void = () => undefined;
  let started: () => void = () => undefined;
  const slowStarted = new Promise<void>((r) => (started = r));
  const slow = await httpBackend('slow', (_req, res) => {
    started();
    release = () => res.end(answer);
    return true;
  });
  cleanups.push(() => slow.close());
  return { slow, slowStarted, release: () => release() };
}

async function backends(...names: string[]): Promise<(TestServer & { seen: http.IncomingHttpHeaders[] })[]> {
  const out = [];
  for (const n of names) {
    const b = await httpBackend(n);
    cleanups.push(() => b.close());
    out.push(b);
  }
  return out;
}

const digest = (data: Buffer): string => crypto.createHash('sha256').update(data).digest('hex');

/** Writes `data` in 4 KB pieces a turn apart, so the router reads it in small chunks too, then ends. */
function trickle(data: Buffer, to: NodeJS.WritableStream): void {
  let at = 0;
  const step = (): void => {
    if (at >= data.length) {
      to.end();
      return;
    }
    to.write(data.subarray(at, at + 4096));
    at += 4096;
    setImmediate(step);
  };
  step();
}

/** Sends `payload`, reads nothing for 300 ms (the other side's writes queue up), then everything until the close. */
function slowRead(port: number, payload: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    s.setTimeout(20_000, () => s.destroy(new Error('slow read timed out')));
    s.pause();
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.write(payload);
    setTimeout(() => s.resume(), 300);
  });
}

const b = (id: string, port: number, weight = 1): { id: string; host: string; port: number; weight: number } => ({ id, host: '127.0.0.1', port, weight });

async function bodies(port: number, n: number, opts: Parameters<typeof request>[1] = {}): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await request(port, opts)).body);
  return out;
}

describe.each([['own read buffers', true], ['Node streams', false]] as const)('%s', (_name, mode) => {
  beforeEach(() => {
    ownReads = mode;
  });

  describe('L7 wire handling', () => {
    it('relays a chunked answer byte for byte, trailers included, and reuses both connections', async () => {
      const { client, httpPort } = await router();
      const backend = await rawHttpBackend(() => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\n');
      cleanups.push(() => backend.close());
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('raw', backend.port)] }] });
      const answer = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\n';
      const get = 'GET /c HTTP/1.1\r\nHost: app\r\n\r\n';
      const first = await rawExchange(httpPort, get + get, (r) => r.length >= answer.length * 2);
      expect(first).toEqual({ received: answer + answer, closed: false });
      const second = await rawExchange(httpPort, get, (r) => r.length >= answer.length);
      expect(second.received).toBe(answer);
      expect(backend.connections()).toBe(1);
    });

    it('ends HEAD, 204 and 304 answers at their head whatever Content-Length says, and the connection goes on', async () => {
      const { client, httpPort } = await router();
      const backend = await rawHttpBackend((head) => {
        if (head.startsWith('HEAD')) return 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
        if (head.startsWith('GET /204')) return 'HTTP/1.1 204 No Content\r\n\r\n';
        if (head.startsWith('GET /304')) return 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n';
        return 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast';
      });
      cleanups.push(() => backend.close());
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('raw', backend.port)] }] });
      const expected = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast';
      const r = await rawExchange(httpPort, ['HEAD /', 'GET /204', 'GET /304', 'GET /last'].map((l) => `${l} HTTP/1.1\r\nHost: app\r\n\r\n`).join(''), (got) => got.endsWith('last'));
      expect(r).toEqual({ received: expected, closed: false });
      expect(backend.connections()).toBe(1);
    });

    it('answers pipelined requests in order, round-robin, over one pooled connection per replica', async () => {
      const { client, httpPort } = await router();
      const raws = [];
      for (const name of ['a', 'b', 'c']) {
        const r = await rawHttpBackend(() => `HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${name}`);
        cleanups.push(() => r.close());
        raws.push(r);
      }
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: raws.map((r, i) => b(`r${i}`, r.port)) }] });
      const one = (name: string): string => `HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${name}`;
      const expected = ['a', 'b', 'c', 'a', 'b', 'c'].map(one).join('');
      const r = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: app\r\n\r\n'.repeat(6), (got) => got.length >= expected.length);
      expect(r.received).toBe(expected);
      expect(raws.map((x) => x.connections())).toEqual([1, 1, 1]);
    });

    it('streams large bodies both ways, with Content-Length and chunked', async () => {
      const { httpPort, echo } = await echoRoute();
      const big = crypto.randomBytes(3_000_000).toString('base64');
      const sized = await request(httpPort, { method: 'POST', body: big });
      const chunked = await request(httpPort, { method: 'PUT', body: big, headers: { 'transfer-encoding': 'chunked' } });
      expect([sized.status, sized.body === big, chunked.status, chunked.body === big]).toEqual([200, true, 200, true]);
      expect(echo.seen.map((h) => h['transfer-encoding'] ?? h['content-length'])).toEqual([String(big.length), 'chunked']);
    });

    it('keeps a large answer intact for a client that stops reading for a while', async () => {
      const { client, httpPort } = await router();
      // Binary and larger than the kernel's socket buffers, so the router's writes to the client queue up.
      const big = crypto.randomBytes(8 * 1024 * 1024);
      const backend = await httpBackend('big', (_req, res) => {
        res.setHeader('content-length', big.length);
        trickle(big, res);
        return true;
      });
      cleanups.push(() => backend.close());
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('big', backend.port)] }] });
      const head = 'HTTP/1.1 200 OK\r\n';
      const got = await slowRead(httpPort, 'GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
      const bodyAt = got.indexOf('\r\n\r\n') + 4;
      expect(got.subarray(0, head.length).toString('latin1')).toBe(head);
      expect(digest(got.subarray(bodyAt))).toBe(digest(big));
    });

    it('answers an HTTP/1.0 request and closes the connection', async () => {
      const { client, httpPort } = await router();
      const [a] = await backends('a');
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('a', a!.port)] }] });
      const r = await rawExchange(httpPort, 'GET / HTTP/1.0\r\nHost: app\r\n\r\n', () => false);
      expect(r.closed).toBe(true);
      expect(r.received).toMatch(/^HTTP\/1\.[01] 200 OK\r\n[\s\S]*\r\n\r\na$/);
    });

    it('refuses a malformed request with 400 and an oversized head with 431, and closes that connection', async () => {
      const { client, httpPort } = await router();
      const [a] = await backends('a');
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('a', a!.port)] }] });
      const bad = await rawExchange(httpPort, 'GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n', () => false);
      const smuggle = await rawExchange(httpPort, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', () => false);
      const huge = await rawExchange(httpPort, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, () => false);
      expect([bad, smuggle, huge].map((r) => `${r.received.split('\r\n', 1)[0]!} ${String(r.closed)}`)).toEqual([
        'HTTP/1.1 400 Bad Request true',
        'HTTP/1.1 400 Bad Request true',
        'HTTP/1.1 431 Request Header Fields Too Large true',
      ]);
      expect((await request(httpPort)).body).toBe('a');
      expect(a!.seen).toHaveLength(1);
    });
  });

  describe('L7 entry', () => {
    it('spreads requests evenly over three replicas', async () => {
      const { client, httpPort } = await router();
      const [a, bb, c] = await backends('a', 'b', 'c');
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('a', a!.port), b('b', bb!.port), b('c', c!.port)] }] });
      expect(countBy(await bodies(httpPort, 30))).toEqual({ a: 10, b: 10, c: 10 });
    });

    it('honours weights (canary 1 in 4)', async () => {
      const { client, httpPort } = await router();
      const [stable, canary] = await backends('stable', 'canary');
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('s', stable!.port, 3), b('c', canary!.port, 1)] }] });
      expect(countBy(await bodies(httpPort, 20))).toEqual({ stable: 15, canary: 5 });
    });

    it('routes by Host header and the longest path prefix, and says when no route matches', async () => {
      const { client, httpPort } = await router();
      const [shop, api, v2, other] = await backends('shop', 'api', 'api-v2', 'other');
      await client.pushTable({
        l7: [
          { host: 'shop.example', pathPrefix: '/', backends: [b('shop', shop!.port)] },
          { host: 'shop.example', pathPrefix: '/api', backends: [b('api', api!.port)] },
          { host: 'shop.example', pathPrefix: '/api/v2', backends: [b('v2', v2!.port)] },
          { pathPrefix: '/other', backends: [b('other', other!.port)] },
        ],
      });
      expect((await request(httpPort, { host: 'shop.example', path: '/cart' })).body).toBe('shop');
      expect((await request(httpPort, { host: 'SHOP.example:8000', path: '/api/items?x=1' })).body).toBe('api');
      expect((await request(httpPort, { host: 'shop.example', path: '/api/v2/items' })).body).toBe('api-v2');
      expect((await request(httpPort, { host: 'shop.example', path: '/apix' })).body).toBe('shop');
      expect((await request(httpPort, { host: 'elsewhere.example', path: '/other/1' })).body).toBe('other');
      const none = await request(httpPort, { host: 'elsewhere.example', path: '/x' });
      expect(none.status).toBe(404);
      expect(none.body).toContain('no route for host "elsewhere.example" path "/x"');
    });

    it('sets X-Forwarded-For/Proto/Host, replacing what the client sent, and streams a request body to the replica', async () => {
      const { httpPort, echo } = await echoRoute();
      const big = 'x'.repeat(1_000_000);
      const r = await request(httpPort, { method: 'POST', host: 'app.example', body: big, headers: { 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' } });
      expect(r.body.length).toBe(big.length);
      expect(echo.seen[0]).toMatchObject({ 'x-forwarded-for': '127.0.0.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'app.example' });
    });

    it('sets the X-Forwarded headers of each request on one connection, whatever it sent', async () => {
      const { httpPort, echo } = await echoRoute();
      const get = (host: string, more = ''): string => `GET / HTTP/1.1\r\nHost: ${host}\r\n${more}\r\n`;
      const heads = [get('a.example'), get('a.example'), get('b.example'), get('b.example', 'X-Forwarded-For: 10.0.0.7\r\n'), get('b.example')];
      const r = await rawExchange(httpPort, heads.join(''), (got) => got.split('HTTP/1.1 200').length - 1 === heads.length);
      expect(r.closed).toBe(false);
      expect(echo.seen.map((h) => `${String(h['x-forwarded-host'])} ${String(h['x-forwarded-for'])}`)).toEqual([
        'a.example 127.0.0.1', 'a.example 127.0.0.1', 'b.example 127.0.0.1', 'b.example 127.0.0.1', 'b.example 127.0.0.1',
      ]);
    });

    it('answers 503 with a clear body when the route has no ready replica', async () => {
      const { client, httpPort } = await router();
      await client.pushTable({ l7: [{ host: 'shop.example', pathPrefix: '/', backends: [] }] });
      const r = await request(httpPort, { host: 'shop.example' });
      expect(r.status).toBe(503);
      expect(r.body).toBe('capstan router: no ready backend for shop.example/\n');
    });

    it('answers 502 naming the replica when it fails mid-request', async () => {
      const { client, httpPort } = await router();
      const broken = await httpBackend('broken', (req) => {
        req.socket.destroy();
        return true;
      });
      cleanups.push(() => broken.close());
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('broken-1', broken.port)] }] });
      const r = await request(httpPort, { method: 'POST', body: 'x' });
      expect(r.status).toBe(502);
      expect(r.body).toMatch(/^capstan router: upstream broken-1 \(127\.0\.0\.1:\d+\) failed: ECONNRESET after the request was sent; not retried: the backend may have acted on it\n$/);
      expect((await client.stats()).backends.find((s) => s.id === 'broken-1')?.errors).toBe(1);
    });

    it('sends a request whose connect was refused to another replica, whatever its method, and ejects the refusing one', async () => {
      const { client, httpPort } = await router();
      const [live] = await backends('live');
      const dead = await freePort();
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('dead', dead), b('live', live!.port)] }] });
      const replies = [];
      for (let i = 0; i < 3; i++) {
        replies.push(await request(httpPort));
        replies.push(await request(httpPort, { method: 'POST', body: 'a'.repeat(1000) }));
        replies.push(await request(httpPort, { method: 'PATCH', headers: { 'transfer-encoding': 'chunked' }, body: 'b' }));
      }
      expect(replies.map((r) => `${r.status} ${r.body}`)).toEqual(Array(9).fill('200 live'));
      expect(live!.seen).toHaveLength(9);
      // One refusal took it out of rotation: the other requests did not try it.
      const stats = (await client.stats()).backends.find((s) => s.id === 'dead');
      expect(stats).toMatchObject({ ejected: true, ejections: 1, errors: 1, inFlight: 0 });
    });

    it('says why in the 502 when no other replica can take a refused request', async () => {
      const { client, httpPort } = await router();
      const dead = await freePort();
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('dead', dead)] }] });
      const r = await request(httpPort, { method: 'POST', body: 'a' });
      expect(r.status).toBe(502);
      expect(r.body).toMatch(/^capstan router: upstream dead \(127\.0\.0\.1:\d+\) failed: ECONNREFUSED; not retried: no other replica to try\n$/);
    });

    it('keeps a client on one replica with the sticky cookie', async () => {
      const { client, httpPort } = await router();
      const [a, bb] = await backends('a', 'b');
      await client.pushTable({ l7: [{ pathPrefix: '/', sticky: true, backends: [b('a-1', a!.port), b('b-1', bb!.port)] }] });
      const first = await request(httpPort);
      const cookie = first.headers['set-cookie']?.[0]?.split(';')[0];
      expect(cookie).toBe(`capstan_sticky=${first.body}-1`);
      const again = await bodies(httpPort, 5, { headers: { cookie: `theme=dark; ${cookie!}` } });
      expect(again).toEqual(Array(5).fill(first.body));
      // A cookie naming a replica that left the table falls back to round-robin.
      await client.pushTable({ l7: [{ pathPrefix: '/', sticky: true, backends: [b('z-1', first.body === 'a' ? bb!.port : a!.port)] }] });
      const moved = await request(httpPort, { headers: { cookie: cookie! } });
      expect(moved.body).not.toBe(first.body);
      expect(moved.headers['set-cookie']?.[0]).toMatch(/^capstan_sticky=z-1;/);
    });

    it('passes a WebSocket upgrade through and relays frames both ways', async () => {
      const { client, httpPort } = await router();
      const ws = await httpBackend('ws');
      cleanups.push(() => ws.close());
      ws.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Path: ${req.url ?? ''}\r\n\r\n`);
        socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
        // Upgraded sockets are half-open capable: close when the router does.
        socket.on('end', () => socket.end());
      });
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('ws', ws.port)] }] });
      const echoed = await new Promise<{ status: number; path: string | undefined; data: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: httpPort, path: '/chat', headers: { connection: 'Upgrade', upgrade: 'websocket' }, agent: false });
        req.on('error', reject);
        req.on('upgrade', (res, socket) => {
          socket.write('hello');
          socket.once('data', (d: Buffer) => {
            resolve({ status: res.statusCode ?? 0, path: res.headers['x-path'] as string | undefined, data: d.toString() });
            socket.destroy();
          });
        });
        req.end();
      });
      expect(echoed).toEqual({ status: 101, path: '/chat', data: 'echo:hello' });
    });

    it('drains: a removed replica finishes its slow request while new requests go elsewhere', async () => {
      const { client, httpPort } = await router();
      const { slow, slowStarted, release } = await slowBackend('slow-done');
      const [fast] = await backends('fast');
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('slow-1', slow.port), b('fast-1', fast!.port)] }] });
      const inFlight = request(httpPort);
      await slowStarted;
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('fast-1', fast!.port)] }] });
      let drainDone = false;
      const drain = client.drain('slow-1', 20_000).then((r) => {
        drainDone = true;
        return r;
      });
      expect(await bodies(httpPort, 4)).toEqual(Array(4).fill('fast'));
      expect(drainDone).toBe(false);
      expect((await client.stats()).backends.find((s) => s.id === 'slow-1')).toMatchObject({ inFlight: 1, listed: false });
      release();
      expect(await inFlight).toMatchObject({ status: 200, body: 'slow-done' });
      expect(await drain).toEqual({ backendId: 'slow-1', drained: true, inFlight: 0, known: true });
    });

    it('drain gives up at its timeout and reports what is still in flight', async () => {
      const { client, httpPort } = await router();
      const { slow, slowStarted, release } = await slowBackend('late');
      await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('slow-1', slow.port)] }] });
      const inFlight = request(httpPort);
      await slowStarted;
      expect(await client.drain('slow-1', 50)).toEqual({ backendId: 'slow-1', drained: false, inFlight: 1, known: true });
      // Drained but still listed: out of rotation, so new requests find no replica.
      expect((await request(httpPort)).status).toBe(503);
      release();
      expect((await inFlight).body).toBe('late');
    });
  });

  describe('L4 listeners', () => {
    it('balances connections round-robin and keeps half-close', async () => {
      const { client } = await router();
      const servers = [await tcpBackend('a'), await tcpBackend('b'), await tcpBackend('c')];
      for (const s of servers) cleanups.push(() => s.close());
      const port = await freePort();
      await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port }, backends: servers.map((s, i) => b(`t${i}`, s.port)) }] });
      const replies: string[] = [];
      for (let i = 0; i < 9; i++) replies.push(await tcpExchange(port, `ping${i}`));
      expect(replies.slice(0, 3)).toEqual(['a:ping0', 'b:ping1', 'c:ping2']);
      expect(countBy(replies.map((r) => r.split(':')[0]!))).toEqual({ a: 3, b: 3, c: 3 });
    });

    it('relays a large stream intact to a client that stops reading for a while', async () => {
      const { client } = await router();
      const big = crypto.randomBytes(8 * 1024 * 1024);
      const server = net.createServer((socket) => trickle(big, socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const port = await freePort();
      await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port }, backends: [b('big', (server.address() as net.AddressInfo).port)] }] });
      expect(digest(await slowRead(port, ''))).toBe(digest(big));
    });

    it('tries the next replica when a connect is refused', async () => {
      const { client } = await router();
      const live = await tcpBackend('live');
      cleanups.push(() => live.close());
      const port = await freePort();
      await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port }, backends: [b('dead', await freePort()), b('live', live.port)] }] });
      const replies = [];
      for (let i = 0; i < 4; i++) replies.push(await tcpExchange(port, 'x'));
      expect(replies).toEqual(Array(4).fill('live:x'));
    });

    it('opens added listeners, closes removed ones and refuses a table whose port is taken', async () => {
      const { client } = await router();
      const s = await tcpBackend('s');
      cleanups.push(() => s.close());
      const [p1, p2] = [await freePort(), await freePort()];
      await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port: p1 }, backends: [b('s', s.port)] }] });
      await client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port: p2 }, backends: [b('s', s.port)] }] });
      expect(await tcpExchange(p2, 'two')).toBe('s:two');
      await expect(tcpExchange(p1, 'one')).rejects.toThrow(/ECONNREFUSED/);
      // s.port is held by the backend itself: the router refuses and keeps serving p2.
      await expect(client.pushTable({ l4: [{ listen: { host: '127.0.0.1', port: s.port }, backends: [b('s', s.port)] }] }))
        .rejects.toThrow(/router refused: router cannot listen on 127\.0\.0\.1:\d+/);
      expect(await tcpExchange(p2, 'still')).toBe('s:still');
      expect((await client.table()).version).toBe(2);
    });
  });
});

describe('admin API', () => {
  it('refuses a malformed table with 400 and says which value is wrong', async () => {
    const { client, running } = await router();
    const bad = { l7: [{ pathPrefix: 'api', backends: [{ id: 'a', host: '127.0.0.1', port: 70000 }] }] } as unknown as RoutingTableInput;
    await expect(client.pushTable(bad)).rejects.toThrow(
      'router refused: invalid routing table; l7.0.pathPrefix: a path prefix starts with "/"; l7.0.backends.0.port: Too big: expected number to be <=65535',
    );
    const raw = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ socketPath: running.paths.socket, method: 'PUT', path: '/table' }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('{not json');
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toContain('body is not JSON');
    expect((await client.table()).version).toBe(0);
  });

  it('persists each accepted table and restores it on start', async () => {
    const { client, dataDir, running } = await router();
    const [a] = await backends('a');
    const version = await client.pushTable({ l7: [{ pathPrefix: '/', backends: [b('a', a!.port)] }] });
    const saved = JSON.parse(await fs.readFile(path.join(dataDir, 'router', 'table.json'), 'utf8')) as { version: number };
    expect(saved.version).toBe(version);
    await running.stop(0);
    const httpPort = await freePort();
    const again = await startRouter(dataDir, { httpHost: '127.0.0.1', httpPort });
    cleanups.push(() => again.stop(0));
    expect(again.router.table.version).toBe(version);
    expect((await request(httpPort)).body).toBe('a');
  });
});
