// One TCP listener per published port: each accepted connection goes to the
// next backend round-robin, and bytes are piped both ways with half-close
// kept (allowHalfOpen), so protocols that shut down one direction still work.
// A refused connect moves on to the next backend before the client sees it.

import net from 'node:net';
import type { Pool } from './backends.js';

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

function connect(pool: Pool, client: net.Socket, attempt: number, refused: ReturnType<Pool['pick']>): void {
  const backend = pool.pick(refused);
  if (backend === undefined || client.destroyed) {
    client.destroy();
    return;
  }
  backend.begin();
  let connected = false;
  let retrying = false;
  const upstream = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
  upstream.once('connect', () => {
    connected = true;
    upstream.pipe(client);
    client.pipe(upstream);
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
  // A clean close leaves the client to flush what the pipe gave it; only a
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
