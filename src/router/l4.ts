// One TCP listener per published port: each accepted connection goes to the
// next backend round-robin, and bytes are relayed both ways with half-close
// kept (allowHalfOpen), so protocols that shut down one direction still work.
// A refused connect moves on to the next backend before the client sees it.
//
// Built for per-round-trip cost: the backend side reads into a buffer of its
// own (read-buffer.ts) and writes straight from it; the client side is a
// plain 'data' listener. Each side pauses the other while its writes are
// queued (backpressure).

import net from 'node:net';
import type { BackendState, Pool } from './backends.js';
import { ReadBuffer } from './read-buffer.js';

export interface L4Listener {
  server: net.Server;
  /** Swapped in place on a table update; the listening socket stays. */
  pool: Pool;
  connections: Set<net.Socket>;
}

export function createL4Listener(pool: Pool): L4Listener {
  const connections = new Set<net.Socket>();
  const listener: L4Listener = { server: net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }), pool, connections };
  listener.server.on('connection', (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => client.destroy());
    connect(listener.pool, client, 0, undefined);
  });
  return listener;
}

function connect(pool: Pool, client: net.Socket, attempt: number, refused: BackendState | undefined): void {
  const backend = pool.pick(refused);
  if (backend === undefined || client.destroyed) {
    client.destroy();
    return;
  }
  backend.begin();
  let connected = false;
  let retrying = false;
  const reads = new ReadBuffer();
  const upstream = net.connect({
    host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true,
    onread: {
      buffer: reads.next,
      callback: (n: number, buf: Buffer): boolean => {
        const accepted = client.write(n === buf.length ? buf : buf.subarray(0, n));
        reads.keepIfQueued(client);
        // false pauses reading until the client drains.
        return accepted;
      },
    },
  });
  upstream.once('connect', () => {
    connected = true;
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.once('end', () => upstream.end());
    upstream.once('end', () => client.end());
    client.resume();
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    backend.errors++;
    if (!connected && attempt + 1 < pool.members.length && isConnectError(err)) {
      retrying = true;
      return;
    }
    client.destroy();
  });
  // A clean close leaves the client to flush what it was given; only a
  // failure on one side tears down the other.
  upstream.once('close', (hadError) => {
    backend.end();
    if (retrying) connect(pool, client, attempt + 1, backend);
    else if (hadError || !connected) client.destroy();
  });
  client.once('close', (hadError) => {
    if (hadError || !connected) upstream.destroy();
  });
}

export function isConnectError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ETIMEDOUT';
}
