// One TCP listener per published port: each accepted connection goes to the
// next backend round-robin, and bytes are relayed both ways with half-close
// kept (allowHalfOpen), so protocols that shut down one direction still work.
// A refused connect ejects that backend for a while and moves on to the next
// one before the client sees it. Both sockets are freed once both sides are
// done, or when no byte moved either way for the idle timeout.
//
// Built for per-round-trip cost: both sides read into buffers of their own
// (read-buffer.ts, accept.ts) and write straight from them. Each side pauses
// the other while its writes are queued (backpressure).

import net from 'node:net';
import { acceptConnections } from './accept.js';
import type { BackendState, Pool } from './backends.js';
import type { Deadlines, Expiring } from './deadlines.js';
import type { ConnectionGate } from './gate.js';
import type { EdgeEvents } from './l7.js';
import type { EdgeLimits } from './limits.js';
import { ReadBuffer } from './read-buffer.js';

export interface L4Listener {
  server: net.Server;
  /** Swapped in place on a table update; the listening socket stays. */
  pool: Pool;
  connections: Set<net.Socket>;
}

export interface L4Options {
  ownReads: boolean;
  limits: EdgeLimits;
  deadlines: Deadlines;
  gate: ConnectionGate;
  events: EdgeEvents;
}

export function createL4Listener(pool: Pool, opts: L4Options): L4Listener {
  const connections = new Set<net.Socket>();
  const listener: L4Listener = { server: net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }), pool, connections };
  acceptConnections(listener.server, { allowHalfOpen: true, ownReads: opts.ownReads, admit: (s) => opts.gate.admit(s) }, (client, clientReads) => {
    // Nothing is read before a backend is connected to take it.
    client.pause();
    connections.add(client);
    const relay = new Relay(client, opts);
    client.on('close', () => {
      connections.delete(client);
      relay.clientClosed();
    });
    client.on('error', () => client.destroy());
    relay.connect(listener.pool, 0, undefined);
    return (chunk) => {
      relay.deadline = opts.deadlines.now + opts.limits.l4IdleTimeoutMs;
      const to = relay.to!;
      const accepted = to.write(chunk);
      clientReads.keepIfQueued(to);
      return accepted;
    };
  });
  return listener;
}

/** One client connection and its backend connection; in the deadline sweep until both are closed. */
class Relay implements Expiring {
  deadline: number;
  /** The connected backend socket. */
  to: net.Socket | undefined;
  private readonly client: net.Socket;
  private readonly opts: L4Options;
  private upstream: net.Socket | undefined;
  private clientOpen = true;

  constructor(client: net.Socket, opts: L4Options) {
    this.client = client;
    this.opts = opts;
    this.deadline = opts.deadlines.now + opts.limits.l4IdleTimeoutMs;
    opts.deadlines.add(this);
  }

  expire(): void {
    this.opts.events.l4Timeouts++;
    this.client.destroy();
    this.upstream?.destroy();
    this.opts.deadlines.delete(this);
  }

  clientClosed(): void {
    this.clientOpen = false;
    const up = this.upstream;
    if (up === undefined || up.destroyed) {
      this.opts.deadlines.delete(this);
      return;
    }
    // Connecting still, or the backend still sending to a client that is gone: nothing more can pass.
    if (this.to === undefined || !up.readableEnded) {
      up.destroy();
      this.opts.deadlines.delete(this);
      return;
    }
    // Both sides shut down: the backend connection is freed when its last bytes are out (or at the deadline).
    up.end();
  }

  /** Connects to the next backend of `pool` (skipping one that refused) and relays between them once connected. */
  connect(pool: Pool, attempt: number, refused: BackendState | undefined): void {
    const { client } = this;
    const backend = pool.pick(refused);
    if (backend === undefined || client.destroyed) {
      client.destroy();
      this.opts.deadlines.delete(this);
      return;
    }
    backend.begin();
    let retrying = false;
    const reads = new ReadBuffer();
    const upstream = net.connect({
      host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true,
      onread: reads.onread((chunk) => {
        this.deadline = this.opts.deadlines.now + this.opts.limits.l4IdleTimeoutMs;
        const accepted = client.write(chunk);
        reads.keepIfQueued(client);
        return accepted;
      }),
    });
    this.upstream = upstream;
    upstream.once('connect', () => {
      backend.connected();
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.to = upstream;
      upstream.on('drain', () => client.resume());
      client.on('drain', () => upstream.resume());
      // Each side's shutdown passes on alone; a socket is freed once both of its directions are done.
      client.once('end', () => upstream.end());
      upstream.once('end', () => client.end());
      client.resume();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (this.to === undefined) {
        backend.connectFailed();
        if (attempt + 1 < pool.members.length && isConnectError(err)) {
          retrying = true;
          return;
        }
      } else backend.errors++;
      client.destroy();
    });
    upstream.once('close', (hadError) => {
      backend.end();
      if (retrying) {
        this.connect(pool, attempt + 1, backend);
        return;
      }
      // A clean close leaves the client to flush what it was given; a failure tears it down.
      if (hadError || this.to === undefined) client.destroy();
      if (!this.clientOpen) this.opts.deadlines.delete(this);
    });
  }
}

export function isConnectError(err: NodeJS.ErrnoException): boolean {
  return err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ETIMEDOUT';
}
