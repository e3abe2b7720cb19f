// The caps on open client connections, one gate for every entry of the router
// (the HTTP entry and each published port share one budget of file
// descriptors): a global count and a count per client IP. A connection over a
// cap is closed as soon as it is accepted, and counted.

import type net from 'node:net';

export interface GateCounts {
  open: number;
  refusedGlobal: number;
  refusedPerIp: number;
}

export class ConnectionGate {
  max: number;
  maxPerIp: number;
  private open = 0;
  private readonly perIp = new Map<string, number>();
  private refusedGlobal = 0;
  private refusedPerIp = 0;

  constructor(max: number, maxPerIp: number) {
    this.max = max;
    this.maxPerIp = maxPerIp;
  }

  /** Counts `socket` in until it closes; false (and counted as refused) when a cap is reached: close it. */
  admit(socket: net.Socket): boolean {
    if (this.open >= this.max) {
      this.refusedGlobal++;
      return false;
    }
    const ip = socket.remoteAddress ?? '';
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) {
      this.refusedPerIp++;
      return false;
    }
    this.open++;
    this.perIp.set(ip, n + 1);
    socket.once('close', () => {
      this.open--;
      const left = this.perIp.get(ip)! - 1;
      if (left === 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    });
    return true;
  }

  counts(): GateCounts {
    return { open: this.open, refusedGlobal: this.refusedGlobal, refusedPerIp: this.refusedPerIp };
  }
}
