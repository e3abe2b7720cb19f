// A TCP proxy on 127.0.0.1 that a fault test puts between Capstan and a
// server (the Git server) to break the network on purpose: `forward` passes
// bytes both ways; `down` closes the listener (connection refused, as a
// server that is gone) and cuts open connections; `stall` forwards each new
// connection's request and the answer's head plus a few body bytes, then
// stops forwarding without closing: a server that hangs mid-response. Going
// back to `forward` (or up from `down`) serves new connections as before, on
// the same port; a stalled connection stays stalled until its client gives up.
// Entering `down` or `stall` drops open connections: kept-alive ones would
// otherwise go on forwarding.

import net from 'node:net';

export type ProxyMode = 'forward' | 'down' | 'stall';

export interface FaultProxy {
  port: number;
  mode(): ProxyMode;
  setMode(mode: ProxyMode): Promise<void>;
  /** Connections held mid-response so far, and how many of them the client has since closed. */
  stalls(): { held: number; abandoned: number };
  close(): Promise<void>;
}

/** Body bytes a stalled answer still gets after its head, so the stall is mid-body, not between requests. */
const STALL_AFTER_BODY_BYTES = 8;

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: ProxyMode = 'forward';
  const open = new Set<net.Socket>();
  let held = 0;
  let abandoned = 0;

  const server = net.createServer((client) => {
    const stalling = mode === 'stall';
    const upstream = net.connect(target);
    open.add(client).add(upstream);
    let seen = Buffer.alloc(0);
    let counted = false;
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      open.delete(client);
      if (stalling && counted) abandoned++;
      upstream.destroy();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      // A stalled answer keeps its client waiting even after the server finished.
      if (!stalling) client.destroy();
    });
    client.on('error', cut);
    upstream.on('error', () => (stalling ? upstream.destroy() : cut()));
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!stalling) {
        client.write(chunk);
        return;
      }
      if (counted) return;
      seen = Buffer.concat([seen, chunk]);
      const head = seen.indexOf('\r\n\r\n');
      if (head === -1) return;
      const allowed = head + 4 + STALL_AFTER_BODY_BYTES;
      if (seen.length < allowed) return;
      client.write(seen.subarray(0, allowed));
      counted = true;
      held++;
    });
  });

  const listen = (port: number): Promise<void> => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    mode: () => mode,
    async setMode(next) {
      if (next === mode) return;
      if (mode === 'down') await listen(port);
      // Kept-alive connections would go on forwarding: a server that goes down or starts to hang drops them.
      if (next !== 'forward') for (const s of open) s.destroy();
      if (next === 'down') await new Promise<void>((resolve) => server.close(() => resolve()));
      mode = next;
    },
    stalls: () => ({ held, abandoned }),
    async close() {
      for (const s of open) s.destroy();
      if (mode !== 'down') await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
