// `capstan router` as its own process (the built CLI): it restores the
// persisted table after a restart, finishes in-flight requests on SIGTERM and
// exits 0, and serves its admin API on 127.0.0.1 with a token when asked.
// The restart gap is printed for the README, never asserted.

import { eventually } from '../helpers/load.js';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RouterClient, routerClient } from '../../src/router/client.js';
import { freePort, httpBackend, request } from '../helpers/net.js';

const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const c of cleanups.splice(0).reverse()) await c();
});

function startRouterProcess(dataDir: string, httpPort: number, ...more: string[]): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'router', '--data-dir', dataDir, '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--grace', '5000', '--log-level', 'warn', ...more], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return { child, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** The shared bounded wait, for a condition that is true or not yet. */
function until(check: () => Promise<boolean>, what: string): Promise<true> {
  return eventually(async () => ((await check()) ? true : undefined), 10_000, () => `waiting for ${what}`);
}

describe('capstan router process', () => {
  it('serves the persisted table after a restart and lets in-flight requests finish on SIGTERM', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'capstan-routerp-'));
    cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const slowStarted = new Promise<void>((r) => (started = r));
    const backend = await httpBackend('replica', (req, res) => {
      if (req.url !== '/slow') return false;
      started();
      release = () => res.end('slow-done');
      return true;
    });
    cleanups.push(() => backend.close());
    const httpPort = await freePort();
    const client = new RouterClient(path.join(dataDir, 'router', 'admin.sock'));

    const first = startRouterProcess(dataDir, httpPort);
    await until(() => client.healthy(), 'the router admin socket');
    const version = await client.pushTable({ l7: [{ pathPrefix: '/', backends: [{ id: 'replica-1', host: '127.0.0.1', port: backend.port, weight: 1 }] }] });
    expect((await request(httpPort)).body).toBe('replica');

    const slow = request(httpPort, { path: '/slow' });
    await slowStarted;
    first.child.kill('SIGTERM');
    // Stopped accepting, still finishing the in-flight request.
    await until(async () => !(await client.healthy()), 'the admin socket to close');
    release();
    expect(await slow).toMatchObject({ status: 200, body: 'slow-done' });
    expect(await first.exited).toBe(0);

    const down = Date.now();
    startRouterProcess(dataDir, httpPort);
    await until(async () => (await request(httpPort).catch(() => undefined))?.body === 'replica', 'the restarted router to serve');
    process.stderr.write(`router restart: first request served ${Date.now() - down} ms after the old process exited\n`);
    expect((await client.table()).version).toBe(version);
  });

  it('serves the admin API on 127.0.0.1 with the token it writes to admin.token', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'capstan-routerp-'));
    cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));
    const backend = await httpBackend('replica');
    cleanups.push(() => backend.close());
    const [httpPort, adminPort] = [await freePort(), await freePort()];
    const router = startRouterProcess(dataDir, httpPort, '--admin', `127.0.0.1:${adminPort}`);
    const client = routerClient(dataDir, { kind: 'tcp', host: '127.0.0.1', port: adminPort }, undefined);
    await until(() => client.healthy(), 'the router admin port');
    await client.pushTable({ l7: [{ pathPrefix: '/', backends: [{ id: 'replica-1', host: '127.0.0.1', port: backend.port, weight: 1 }] }] });
    expect((await request(httpPort)).body).toBe('replica');
    await expect(routerClient(dataDir, { kind: 'tcp', host: '127.0.0.1', port: adminPort }, 'not-the-token').stats()).rejects.toMatchObject({ data: { status: 401 } });
    router.child.kill('SIGTERM');
    expect(await router.exited).toBe(0);
  });
});
