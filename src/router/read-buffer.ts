// A socket's own read buffer for net.connect's `onread`: reading into it
// skips the stream machinery and an allocation per read. A chunk is a view of
// this memory, valid until the next read; a write of it that the kernel did
// not take at once keeps a reference, so the next read then gets a fresh
// buffer instead.

import type net from 'node:net';

/** Bytes read at once; like nginx's proxy_buffer_size, one buffer per backend connection. */
export const READ_BUFFER = 16 * 1024;

export class ReadBuffer {
  private buf = Buffer.allocUnsafe(READ_BUFFER);
  private retained = false;

  /** For `onread.buffer`: where the next read goes. */
  readonly next = (): Buffer => {
    if (this.retained) {
      this.retained = false;
      this.buf = Buffer.allocUnsafe(READ_BUFFER);
    }
    return this.buf;
  };

  /** Call after writing a view of the last chunk to `sink`. */
  keepIfQueued(sink: net.Socket): void {
    if (sink.writableLength > 0) this.retained = true;
  }
}
