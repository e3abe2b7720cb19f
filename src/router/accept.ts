// Accepting connections that read into a buffer of their own (read-buffer.ts),
// as the router's backend connections do: that skips the stream machinery and
// an allocation per read, on the client side of every request. Node offers
// `onread` only to sockets it connects, not to those a server accepts, so
// the accepted handle is wrapped here the way Node's net.Server does itself
// (lib/net.js onconnection), with `onread` added. That reaches into Node's
// internals (server._handle.onconnection, net.Socket's `handle` option,
// server._connections); when they are not there as expected, or `ownReads`
// is off, connections come through the public 'connection' event and 'data'
// chunks instead, with the same callback.

import net from 'node:net';
import { chunkOf, ReadBuffer, type OnRead } from './read-buffer.js';

export interface AcceptOptions {
  allowHalfOpen: boolean;
  /** Own read buffers when Node's internals allow; false: the public path. */
  ownReads: boolean;
  /** False closes the connection at once, before `accept` sees it (a connection cap). */
  admit: (socket: net.Socket) => boolean;
}

interface ServerInternals {
  _handle?: { onconnection?: unknown } | null;
  _connections?: unknown;
}

/** Calls `accept` for each connection `server` takes; what it returns gets every chunk read. */
export function acceptConnections(server: net.Server, opts: AcceptOptions, accept: (socket: net.Socket, reads: ReadBuffer) => OnRead): void {
  server.on('connection', (socket: net.Socket) => {
    if (!opts.admit(socket)) {
      socket.destroy();
      return;
    }
    const onRead = accept(socket, new ReadBuffer());
    socket.on('data', (chunk: Buffer) => {
      if (!onRead(chunk)) socket.pause();
    });
  });
  if (!opts.ownReads) return;
  // Emitted before the first connection can be taken: the handle exists and no accept has run yet.
  server.on('listening', () => {
    const internals = server as unknown as ServerInternals;
    const handle = internals._handle;
    if (handle === null || handle === undefined || typeof handle.onconnection !== 'function' || typeof internals._connections !== 'number') return;
    handle.onconnection = (err: number, clientHandle: object | undefined): void => {
      // A failed accept (EMFILE, ...) is retried by libuv on the next readable event.
      if (err !== 0 || clientHandle === undefined) return;
      const reads = new ReadBuffer();
      let onRead: OnRead = () => true;
      const socket = new net.Socket({
        handle: clientHandle, allowHalfOpen: opts.allowHalfOpen, readable: true, writable: true,
        onread: { buffer: reads.next, callback: (n: number, buf: Buffer) => onRead(chunkOf(n, buf)) },
      } as net.SocketConstructorOpts);
      // As Node does: the server counts it (close() waits for it, and the socket's destroy uncounts it).
      (internals._connections as number)++;
      Object.assign(socket, { server, _server: server });
      if (!opts.admit(socket)) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      onRead = accept(socket, reads);
    };
  });
}
