// One keep-alive connection from the L7 entry to a backend. Its socket
// listeners are bound once and report to whichever client connection owns it
// now, so reusing it from the pool costs no new closures. It reads into a
// buffer of its own (read-buffer.ts); the owner says when a write still holds
// a view of a chunk.

import net from 'node:net';
import type { BackendState } from './backends.js';
import { ReadBuffer } from './read-buffer.js';

export interface UpstreamOwner {
  /** `chunk` is valid only during the call unless keepIfQueued is called after writing it. */
  upstreamData(u: Upstream, chunk: Buffer): void;
  upstreamDrain(u: Upstream): void;
  /** The connection closed; `err` says why when it failed. */
  upstreamClosed(u: Upstream, err: NodeJS.ErrnoException | undefined): void;
  /** The backend shut its side (only on a half-open connection: an upgrade's). */
  upstreamEnded(u: Upstream): void;
}

export class Upstream {
  readonly socket: net.Socket;
  /** The backend's address epoch when this connection was opened. */
  readonly epoch: number;
  /** Taken from the pool rather than freshly connected: a failure may just mean the backend closed it while idle. */
  reused = false;
  /** The connect succeeded: what was written may have reached the backend. Until then, nothing has. */
  connected = false;
  private owner: UpstreamOwner | undefined;
  private error: NodeJS.ErrnoException | undefined;
  private readonly reads = new ReadBuffer();
  private paused = false;

  /** `halfOpen`: for an upgrade, whose tunnel passes each side's shutdown on alone. */
  constructor(backend: BackendState, halfOpen = false) {
    this.epoch = backend.epoch;
    this.socket = net.connect({ host: backend.host, port: backend.port, noDelay: true, allowHalfOpen: halfOpen, onread: this.reads.onread(this.onRead) });
    this.socket.once('connect', () => {
      this.connected = true;
      backend.connected();
    });
    if (halfOpen) this.socket.on('end', () => this.owner?.upstreamEnded(this));
    this.socket.on('drain', () => this.owner?.upstreamDrain(this));
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error = err;
    });
    this.socket.on('close', () => {
      const o = this.owner;
      this.owner = undefined;
      o?.upstreamClosed(this, this.error);
    });
  }

  get alive(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  claim(owner: UpstreamOwner): void {
    this.owner = owner;
  }

  /** After writing a view of a chunk to `sink`: if the write is queued, it keeps that memory, so reading moves to a new buffer. */
  keepIfQueued(sink: net.Socket): void {
    this.reads.keepIfQueued(sink);
  }

  /** Stops reading while the client cannot take more. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /** Only when paused: a resume() of a socket that reads already still costs a tick of stream work. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /**
   * Back in the pool: nobody owns it, and reading goes on so a close is
   * noticed. No idle timer of its own (one per request costs throughput):
   * the backend's keep-alive timeout ends connections nobody uses.
   */
  idleNow(): void {
    this.owner = undefined;
    this.reused = true;
    this.resume();
  }

  close(): void {
    this.owner = undefined;
    this.socket.destroy();
  }

  /** Closes with a reset: the backend sees the request aborted, not a message that just ended early. */
  reset(): void {
    this.owner = undefined;
    if (this.connected) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  private readonly onRead = (chunk: Buffer): boolean => {
    if (this.owner !== undefined) this.owner.upstreamData(this, chunk);
    // Bytes on an idle connection belong to no request: it cannot be trusted again.
    else this.socket.destroy();
    return true;
  };
}
