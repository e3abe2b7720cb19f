// What the HTTP API answers while this operator waits for another to stop
// leading its instance: alive (/healthz 200), not ready (/readyz 503, saying
// why), and nothing else — the leader's API is the one to ask. Plain
// node:http: it lives only until this operator leads, then the full API
// takes the address.

import http from 'node:http';
import type net from 'node:net';
import { listenError, splitListen } from './app.js';

export interface StandbyServer {
  address: string;
  close(): Promise<void>;
}

export async function startStandbyServer(listen: string, reason: () => string): Promise<StandbyServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    req.resume();
    const body = path === '/healthz' ? { status: 'ok', leader: false } : { ready: false, leader: false, reason: reason() };
    res.writeHead(path === '/healthz' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const { host, port } = splitListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(listen, err)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as net.AddressInfo;
  return {
    address: `${bound.address}:${bound.port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
