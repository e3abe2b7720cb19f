// One keep-alive connection from the L7 entry to a backend. Its socket
// listeners are bound once and report to whichever client connection owns it
// now, so reusing it from the pool costs no new closures.

import net from 'node:net';

export interface UpstreamOwner {
  upstreamData(u: Upstream, chunk: Buffer): void;
  upstreamDrain(u: Upstream): void;
  /** The connection closed; `err` says why when it failed. */
  upstreamClosed(u: Upstream, err: NodeJS.ErrnoException | undefined): void;
}

export class Upstream {
  readonly socket: net.Socket;
  /** The backend's address epoch when this connection was opened. */
  readonly epoch: number;
  /** Taken from the pool rather than freshly connected: a failure may just mean the backend closed it while idle. */
  reused = false;
  private owner: UpstreamOwner | undefined;
  private error: NodeJS.ErrnoException | undefined;

  constructor(host: string, port: number, epoch: number) {
    this.epoch = epoch;
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      if (this.owner !== undefined) this.owner.upstreamData(this, chunk);
      // Bytes on an idle connection belong to no request: it cannot be trusted again.
      else this.socket.destroy();
    });
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

  /**
   * Back in the pool: nobody owns it, and reading goes on so a close is
   * noticed. No idle timer of its own (one per request costs throughput):
   * the backend's keep-alive timeout ends connections nobody uses.
   */
  idleNow(): void {
    this.owner = undefined;
    this.reused = true;
    this.socket.resume();
  }

  close(): void {
    this.owner = undefined;
    this.socket.destroy();
  }
}
