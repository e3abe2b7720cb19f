// A socket's own read buffer for net.connect's `onread`: reading into it
// skips the stream machinery and an allocation per read. A chunk is a view of
// this memory, valid until the next read; a write of it that the kernel did
// not take at once keeps a reference, so the next read then gets a fresh
// buffer instead.

import type net from 'node:net';

/** One chunk a socket read: a view of its ReadBuffer, valid until the next read. False pauses reading until resume(). */
export type OnRead = (chunk: Buffer) => boolean;

/** Bytes read at once; like nginx's proxy_buffer_size, one buffer per backend connection. */
export const READ_BUFFER = 16 * 1024;

export class ReadBuffer {
  /** Made at the first read: a socket that never reads through it (the stream path) costs nothing. */
  private buf: Buffer | undefined;

  /** For `onread.buffer`: where the next read goes. */
  readonly next = (): Buffer => {
    this.buf ??= Buffer.allocUnsafe(READ_BUFFER);
    return this.buf;
  };

  /** The `onread` option of a socket that reads into this buffer and hands each chunk to `fn`. */
  onread(fn: OnRead): { buffer: () => Buffer; callback: (n: number, buf: Buffer) => boolean } {
    return { buffer: this.next, callback: (n, buf) => fn(chunkOf(n, buf)) };
  }

  /** Call after writing a view of the last chunk to `sink`. */
  keepIfQueued(sink: net.Socket): void {
    if (sink.writableLength > 0) this.buf = undefined;
  }

  /** A copy of `chunk` if it is a view of this buffer (which the next read overwrites), else `chunk` itself. */
  own(chunk: Buffer): Buffer {
    return this.buf !== undefined && chunk.buffer === this.buf.buffer ? Buffer.from(chunk) : chunk;
  }
}

/** The `n` bytes an onread callback got in `buf`. */
export function chunkOf(n: number, buf: Buffer): Buffer {
  return n === buf.length ? buf : buf.subarray(0, n);
}
