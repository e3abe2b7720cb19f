// An engine call in flight ends when the engine stops answering, and only
// then: real dockerode clients against real unix sockets that hold a call
// unanswered, with and without answering /_ping.

import Docker from 'dockerode';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { guardEngineCalls } from '../../src/backends/docker/watchdog.js';
import { DockerUnavailableError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-watchdog-'));
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** An engine whose /_ping answers when `pings` says so; `/containers/slow/json` answers after `slowMs` (never when undefined). */
async function engine(name: string, pings: () => boolean, slowMs: number | undefined): Promise<string> {
  const socketPath = join(dir, `${name}.sock`);
  rmSync(socketPath, { force: true });
  server = createServer((req, res) => {
    if (req.url?.endsWith('/_ping')) {
      if (pings()) res.end('OK');
      return; // silent, like a hung dockerd
    }
    if (slowMs !== undefined) setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"Id":"slow"}'), slowMs);
  });
  await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  return socketPath;
}

function client(socketPath: string): Docker {
  const docker = new Docker({ socketPath });
  guardEngineCalls(docker, `unix://${socketPath}`, { suspectAfterMs: 100, pingTimeoutMs: 200 });
  return docker;
}

describe('guardEngineCalls', () => {
  it('fails a call in flight with DockerUnavailableError once the engine no longer answers /_ping', async () => {
    const socketPath = await engine('hung', () => false, undefined);
    const err: unknown = await client(socketPath).getContainer('slow').inspect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerUnavailableError);
    expect((err as Error).message).toContain(socketPath);
    expect(String((err as Error).cause)).toContain('no answer to /_ping');
  });

  it('lets a slow call finish while the engine answers /_ping', async () => {
    let pinged = 0;
    const socketPath = await engine('slow', () => ++pinged > 0, 700);
    const info = await client(socketPath).getContainer('slow').inspect();
    expect(info.Id).toBe('slow');
    // Asked more than once while it lasted, and the call went on each time.
    expect(pinged).toBeGreaterThan(1);
  });

  it('trusts the engine again once it answers', async () => {
    let answering = false;
    const socketPath = await engine('back', () => answering, 400);
    const docker = client(socketPath);
    expect(await docker.getContainer('slow').inspect().catch((e: unknown) => e)).toBeInstanceOf(DockerUnavailableError);
    answering = true;
    expect((await docker.getContainer('slow').inspect()).Id).toBe('slow');
  });

  it('keeps a caller\'s own abort as it was', async () => {
    const socketPath = await engine('own', () => true, undefined);
    const err: unknown = await client(socketPath).getContainer('slow').inspect({ abortSignal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(DockerUnavailableError);
    expect((err as { name?: string }).name).toBe('AbortError');
  });
});
