// One TCP listener per published port: each accepted connection goes to the
// next backend round-robin, and bytes are relayed both ways with half-close
// kept (allowHalfOpen), so protocols that shut down one direction still work.
// A refused connect moves on to the next backend before the client sees it.
//
// Built for per-round-trip cost: both sides read into buffers of their own
// (read-buffer.ts, accept.ts) and write straight from them. Each side pauses
// the other while its writes are queued (backpressure).

import net from 'node:net';
import { acceptConnections } from './accept.js';
import type { BackendState, Pool } from './backends.js';
import { ReadBuffer } from './read-buffer.js';

export interface L4Listener {
  server: net.Server;
  /** Swapped in place on a table update; the listening socket stays. */
  pool: Pool;
  connections: Set<net.Socket>;
}

export function createL4Listener(pool: Pool, ownReads: boolean): L4Listener {
  const connections = new Set<net.Socket>();
  const listener: L4Listener = { server: net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }), pool, connections };
  acceptConnections(listener.server, { allowHalfOpen: true, ownReads }, (client, clientReads) => {
    // Nothing is read before a backend is connected to take it.
    client.pause();
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => client.destroy());
    const relay: { to: net.Socket | undefined } = { to: undefined };
    connect(listener.pool, client, relay, 0, undefined);
    return (chunk) => {
      const to = relay.to!;
      const accepted = to.write(chunk);
      clientReads.keepIfQueued(to);
      return accepted;
    };
  });
  return listener;
}

/** Connects `client` to the next backend of `pool` (skipping one that refused) and relays between them once connected. */
function connect(pool: Pool, client: net.Socket, relay: { to: net.Socket | undefined }, attempt: number, refused: BackendState | undefined): void {
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
    onread: reads.onread((chunk) => {
      const accepted = client.write(chunk);
      reads.keepIfQueued(client);
      return accepted;
    }),
  });
  upstream.once('connect', () => {
    connected = true;
    relay.to = upstream;
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
    if (retrying) connect(pool, client, relay, attempt + 1, backend);
    else if (hadError || !connected) client.destroy();
  });
  client.once('close', (hadError) => {
    if (hadError || !connected) upstream.destroy();
  });
}

export function isConnectError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ETIMEDOUT';
}
