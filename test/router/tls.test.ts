// TLS on the router's HTTPS entry, on real sockets: certificates the operator
// hands over (self-made here with openssl), SNI, redirect_http, a certificate
// swapped under load without a failed request, HTTP/2 over ALPN, and ACME
// against Debian's pebble on 127.0.0.1 (its HTTP-01 validation really asks
// the router's HTTP entry, names resolved by pebble-challtestsrv).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RouterClient } from '../../src/router/client.js';
import type { RouterOptions } from '../../src/router/router.js';
import { startRouter } from '../../src/router/service.js';
import { freePort, httpBackend, request, type TestServer } from '../helpers/net.js';
import { makeCa, makeLeaf, type Pem } from '../helpers/tls.js';

vi.setConfig({ testTimeout: 60_000 });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let dir: string;
let ca: Pem;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capstan-tls-'));
  ca = makeCa(dir);
  return () => fs.rmSync(dir, { recursive: true, force: true });
});

async function tlsRouter(opts: Partial<RouterOptions> = {}): Promise<{ client: RouterClient; httpPort: number; httpsPort: number; dataDir: string }> {
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'capstan-tls-router-'));
  const httpPort = opts.httpPort ?? (await freePort());
  const httpsPort = await freePort();
  const running = await startRouter(dataDir, { httpHost: '127.0.0.1', ...opts, httpPort, httpsPort });
  cleanups.push(async () => {
    await running.stop(0);
    await fsp.rm(dataDir, { recursive: true, force: true });
  });
  return { client: new RouterClient(running.paths.socket), httpPort, httpsPort, dataDir };
}

function track<T extends TestServer>(s: T): T {
  cleanups.push(() => s.close());
  return s;
}

const b = (id: string, port: number) => ({ id, host: '127.0.0.1', port, weight: 1 });

const tlsCheck = (host: string, cert: tls.PeerCertificate): Error | undefined => tls.checkServerIdentity(host, cert);

interface TlsReply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  serial: string;
}

/** `servername` '' sends no SNI (a client asking by IP address); `host` is then the Host header. */
function httpsGet(port: number, servername: string, opts: { agent?: https.Agent; path?: string; ca?: string; host?: string } = {}): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, servername, path: opts.path ?? '/', headers: { host: opts.host ?? servername }, ca: opts.ca ?? ca.cert, agent: opts.agent ?? false, timeout: 20_000,
      // Without SNI the name to check is the one asked for in Host.
      ...(servername === '' ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tlsCheck(opts.host ?? '', cert) } : {}),
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, serial }));
    });
    req.end();
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('certificates from the operator', () => {
  it('serves each host its certificate by SNI, refuses unknown names, redirects plain HTTP where asked, and keeps keys to itself', async () => {
    const { client, httpPort, httpsPort, dataDir } = await tlsRouter();
    const shop = track(await httpBackend('shop'));
    const blog = track(await httpBackend('blog'));
    const shopPem = makeLeaf(dir, ca, 'shop-a', ['shop.test']);
    const blogPem = makeLeaf(dir, ca, 'blog-a', ['blog.test']);
    await client.putCertificate('shop-1', shopPem.cert, shopPem.key);
    await client.putCertificate('blog-1', blogPem.cert, blogPem.key);
    await expect(client.putCertificate('bad', shopPem.cert, blogPem.key)).rejects.toThrow(/the key does not belong to the certificate/);
    await client.pushTable({
      l7: [
        { host: 'shop.test', pathPrefix: '/', backends: [b('shop', shop.port)], tls: { certificate: 'shop-1' } },
        { host: 'blog.test', pathPrefix: '/', backends: [b('blog', blog.port)], tls: { certificate: 'blog-1' }, redirectHttp: true },
      ],
    });
    const s = await httpsGet(httpsPort, 'shop.test');
    const bl = await httpsGet(httpsPort, 'blog.test', { path: '/post?id=1' });
    expect([s.status, s.body, bl.status, bl.body]).toEqual([200, 'shop', 200, 'blog']);
    expect(shop.seen[0]).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.test', host: 'shop.test' });
    await expect(httpsGet(httpsPort, 'other.test')).rejects.toThrow();
    // No SNI at all: the first TLS route's certificate, as nginx's default server.
    const noSni = await httpsGet(httpsPort, '', { host: 'shop.test' });
    expect([noSni.status, noSni.body]).toEqual([200, 'shop']);
    // Plain HTTP: blog.test is sent to HTTPS, shop.test is served as it is.
    const redirected = await request(httpPort, { host: 'blog.test', path: '/post?id=1' });
    expect([redirected.status, redirected.headers.location]).toEqual([308, `https://blog.test:${httpsPort}/post?id=1`]);
    expect((await request(httpPort, { host: 'shop.test' })).body).toBe('shop');
    // Listed by name and expiry only; kept 0600.
    const listed = await client.certificates();
    expect(JSON.stringify(listed)).not.toContain('PRIVATE KEY');
    expect(listed.certificates.map((c) => `${c.id} ${c.names.join(',')}`)).toEqual(['blog-1 blog.test', 'shop-1 shop.test']);
    expect(listed.missing).toEqual([]);
    expect((fs.statSync(path.join(dataDir, 'router', 'certs', 'shop-1.json')).mode & 0o777).toString(8)).toBe('600');
  });

  it('serves a new certificate from the next handshake without dropping a connection or failing a request', async () => {
    const { client, httpsPort } = await tlsRouter();
    const shop = track(await httpBackend('shop'));
    const first = makeLeaf(dir, ca, 'shop-b1', ['shop.test']);
    const second = makeLeaf(dir, ca, 'shop-b2', ['shop.test']);
    await client.putCertificate('shop-1', first.cert, first.key);
    await client.pushTable({ l7: [{ host: 'shop.test', pathPrefix: '/', backends: [b('shop', shop.port)], tls: { certificate: 'shop-1' } }] });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
    cleanups.push(() => agent.destroy());
    let socketsClosed = 0;
    const failures: string[] = [];
    const serials = new Set<string>();
    let swapped = false;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        try {
          const r = await httpsGet(httpsPort, 'shop.test', { agent });
          if (r.status !== 200) failures.push(String(r.status));
          serials.add(r.serial);
        } catch (err) {
          failures.push((err as Error).message);
        }
        if (i === 30 && !swapped) {
          swapped = true;
          for (const list of Object.values(agent.sockets)) for (const sock of list ?? []) sock.once('close', () => socketsClosed++);
          await client.putCertificate('shop-2', second.cert, second.key);
          await client.pushTable({ l7: [{ host: 'shop.test', pathPrefix: '/', backends: [b('shop', shop.port)], tls: { certificate: 'shop-2' } }] });
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(failures).toEqual([]);
    expect(socketsClosed).toBe(0);
    // Open connections kept the first; a new one gets the second.
    expect(serials.size).toBe(1);
    expect((await httpsGet(httpsPort, 'shop.test')).serial).not.toBe([...serials][0]);
  });

  it('speaks HTTP/2 when the client offers it: routes, X-Forwarded-*, request bodies, and a refused connect sent to another replica', async () => {
    const { client, httpsPort } = await tlsRouter();
    const echo = track(await httpBackend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(`${req.method ?? ''} ${req.url ?? ''} ${Buffer.concat(chunks).toString()}`));
      return true;
    }));
    const dead = await freePort();
    const pem = makeLeaf(dir, ca, 'h2', ['h2.test']);
    await client.putCertificate('h2', pem.cert, pem.key);
    await client.pushTable({ l7: [{ name: 'web/h2', host: 'h2.test', pathPrefix: '/', backends: [b('dead', dead), b('echo', echo.port)], tls: { certificate: 'h2' } }] });
    const session = http2.connect(`https://127.0.0.1:${httpsPort}`, { ca: ca.cert, servername: 'h2.test' });
    cleanups.push(() => void session.close());
    const ask = (headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const req = session.request({ ':authority': 'h2.test', ...headers });
      let got = '';
      let status = 0;
      req.setEncoding('utf8');
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d: string) => (got += d));
      req.on('end', () => resolve({ status, body: got }));
      req.on('error', reject);
      req.end(body);
    });
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => ask({ ':path': `/get/${i}` })));
    expect(replies.map((r) => `${r.status} ${r.body}`)).toEqual(Array.from({ length: 6 }, (_, i) => `200 GET /get/${i} `));
    expect((session.socket as tls.TLSSocket).alpnProtocol).toBe('h2');
    const posted = await ask({ ':path': '/post', ':method': 'POST', 'content-type': 'text/plain' }, 'x'.repeat(100_000));
    expect([posted.status, posted.body.length]).toEqual([200, 'POST /post '.length + 100_000]);
    expect(echo.seen[0]).toMatchObject({ host: 'h2.test', 'x-forwarded-proto': 'https', 'x-forwarded-for': '127.0.0.1' });
    const stats = await client.stats();
    expect(stats.backends.find((s) => s.id === 'dead')).toMatchObject({ ejected: true, inFlight: 0 });
    expect(stats.backends.find((s) => s.id === 'echo')).toMatchObject({ total: 7, inFlight: 0 });
    const { routes } = await client.routes();
    expect(routes.reduce((n, r) => n + r.latency.count, 0)).toBe(7);
  });
});

describe('ACME', () => {
  it('gets a certificate from pebble over HTTP-01 on the HTTP entry, keeps it and the account key 0600, and serves it', async () => {
    const httpPort = await freePort();
    const [dirPort, mgmtPort, dnsPort, chalMgmt, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const pebbleTls = makeLeaf(dir, ca, 'pebble', ['localhost'], ['127.0.0.1']);
    const config = path.join(dir, 'pebble.json');
    fs.writeFileSync(config, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${dirPort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`, certificate: pebbleTls.certFile, privateKey: pebbleTls.keyFile,
        httpPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
      },
    }));
    // Every name resolves to 127.0.0.1, so pebble's HTTP-01 check reaches the router.
    start('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${chalMgmt}`, '-defaultIPv6', '']);
    start('pebble', ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' });
    await until('pebble listening', () => connects(dirPort));
    const { client, httpsPort, dataDir } = await tlsRouter({
      httpPort, acme: { directory: `https://127.0.0.1:${dirPort}/dir`, email: 'ops@example.test', caFile: ca.certFile },
    });
    const app = track(await httpBackend('secured'));
    await client.pushTable({ l7: [{ host: 'acme.test', pathPrefix: '/', backends: [b('app', app.port)], tls: { acme: true }, redirectHttp: true }] });
    await until('the certificate issued', async () => (await client.certificates()).certificates.some((c) => c.id === 'acme-acme.test'), 45_000);
    const root = await fetchPem(mgmtPort, '/roots/0');
    const r = await httpsGet(httpsPort, 'acme.test', { ca: root });
    expect([r.status, r.body]).toEqual([200, 'secured']);
    const mode = (f: string): string => (fs.statSync(path.join(dataDir, 'router', f)).mode & 0o777).toString(8);
    expect([mode('acme/account.key'), mode('certs/acme-acme.test.json')]).toEqual(['600', '600']);
  });
});

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: 'ignore', env: { ...process.env, ...env } });
  cleanups.push(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  }));
  return child;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** pebble's management API: the root it signs with is made anew at each start. */
function fetchPem(port: number, at: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: at, ca: ca.cert, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}
