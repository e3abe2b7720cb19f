// The admin API over 127.0.0.1 with a bearer token, on real sockets: a
// request without the token or with a wrong one gets 401 and changes nothing;
// the right one (generated and written 0600, or given as CAPSTAN_ROUTER_TOKEN)
// drives the router as the unix socket does.

import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { parseAdminAddress, type TcpAdminAddress } from '../../src/router/address.js';
import { routerClient } from '../../src/router/client.js';
import { startRouter } from '../../src/router/service.js';
import { freePort, httpBackend } from '../helpers/net.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tcpRouter(token?: string): Promise<{ dataDir: string; admin: TcpAdminAddress; httpPort: number }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'capstan-admin-'));
  const admin: TcpAdminAddress = { kind: 'tcp', host: '127.0.0.1', port: await freePort() };
  const httpPort = await freePort();
  const running = await startRouter(dataDir, { httpHost: '127.0.0.1', httpPort }, token === undefined ? { address: admin } : { address: admin, token });
  cleanups.push(async () => {
    await running.stop(0);
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  return { dataDir, admin, httpPort };
}

function raw(port: number, method: string, urlPath: string, headers: http.OutgoingHttpHeaders = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const table = (port: number): string => JSON.stringify({ l7: [{ pathPrefix: '/', backends: [{ id: 'a', host: '127.0.0.1', port }] }] });

describe('admin API on 127.0.0.1 with a token', () => {
  it('answers 401 without the generated token, 200 with it, and a client reads it from admin.token', async () => {
    const { dataDir, admin, httpPort } = await tcpRouter();
    const tokenFile = path.join(dataDir, 'router', 'admin.token');
    expect((await fs.stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await fs.readFile(tokenFile, 'utf8')).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(fs.stat(path.join(dataDir, 'router', 'admin.sock'))).rejects.toThrow(/ENOENT/);

    const a = await httpBackend('a');
    cleanups.push(() => a.close());
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: token }, { authorization: `Basic ${token}` }]) {
      const r = await raw(admin.port, 'PUT', '/table', { ...headers, 'content-type': 'application/json' }, table(a.port));
      expect(r.status).toBe(401);
      expect(r.body).toContain('missing or wrong admin token');
    }
    expect((await raw(admin.port, 'GET', '/healthz')).status).toBe(401);
    // Nothing above reached the router: the entry still has no route.
    expect((await raw(httpPort, 'GET', '/')).status).toBe(404);

    expect((await raw(admin.port, 'GET', '/healthz', { authorization: `Bearer ${token}` })).status).toBe(200);
    const client = routerClient(dataDir, admin, undefined);
    expect(await client.pushTable(JSON.parse(table(a.port)) as object)).toBe(1);
    expect(await raw(httpPort, 'GET', '/')).toEqual({ status: 200, body: 'a' });
  });

  it('uses the token it is given and writes none; a client with another token is refused with a hint', async () => {
    const { dataDir, admin } = await tcpRouter('given-token');
    await expect(fs.stat(path.join(dataDir, 'router', 'admin.token'))).rejects.toThrow(/ENOENT/);
    expect(await routerClient(dataDir, admin, 'given-token').healthy()).toBe(true);
    const wrong = routerClient(dataDir, admin, 'other-token');
    expect(await wrong.healthy()).toBe(false);
    await expect(wrong.stats()).rejects.toMatchObject({ code: 'E_ROUTER_REJECTED', data: { status: 401 }, hint: expect.stringContaining('CAPSTAN_ROUTER_TOKEN') });
    // Without the env token the client looks for the file, which this router never wrote.
    await expect(routerClient(dataDir, admin, undefined).stats()).rejects.toMatchObject({ code: 'E_ROUTER_UNAVAILABLE' });
  });
});

describe('admin address', () => {
  it('takes loopback HOST:PORT only', () => {
    expect(parseAdminAddress('127.0.0.1:9421')).toEqual({ ok: true, address: { kind: 'tcp', host: '127.0.0.1', port: 9421 } });
    expect(parseAdminAddress('[::1]:9421')).toEqual({ ok: true, address: { kind: 'tcp', host: '::1', port: 9421 } });
    expect(parseAdminAddress('localhost:9421')).toEqual({ ok: true, address: { kind: 'tcp', host: '127.0.0.1', port: 9421 } });
    expect(parseAdminAddress('0.0.0.0:9421')).toMatchObject({ ok: false, error: expect.stringContaining('not on the loopback') });
    expect(parseAdminAddress('10.0.0.1:9421')).toMatchObject({ ok: false, error: expect.stringContaining('not on the loopback') });
    expect(parseAdminAddress('127.0.0.1:0')).toMatchObject({ ok: false, error: expect.stringContaining('not HOST:PORT') });
    expect(parseAdminAddress('127.0.0.1')).toMatchObject({ ok: false });
  });

  it('is a setting (flag or CAPSTAN_ROUTER_ADMIN); the token comes from the environment only', () => {
    expect(resolveSettings({}, { CAPSTAN_ROUTER_ADMIN: '127.0.0.1:9421', CAPSTAN_ROUTER_TOKEN: 't' })).toMatchObject({ routerAdmin: { kind: 'tcp', port: 9421 }, routerToken: 't' });
    expect(resolveSettings({}, {}, { routerToken: 'from-file' }).routerToken).toBeUndefined();
    expect(() => resolveSettings({ routerAdmin: '0.0.0.0:9421' }, {})).toThrow(/--router-admin \(CAPSTAN_ROUTER_ADMIN\): "0.0.0.0:9421" is not on the loopback/);
    expect(resolveSettings({}, {}).routerImage).toMatch(/^capstan:\d+\.\d+\.\d+/);
  });
});
