// Local servers on 127.0.0.1 for router tests: HTTP backends that answer with
// their own name, TCP backends, a free-port finder and plain request helpers.

import http from 'node:http';
import net from 'node:net';

/** A port the kernel just handed out and released; good enough for a listener the test opens next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestServer {
  port: number;
  close(): Promise<void>;
}

async function listenOn(server: net.Server): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      if (server instanceof http.Server) server.closeAllConnections();
    }),
  };
}

/** An HTTP backend whose body is its name; `handler` may take over any request. */
export function httpBackend(name: string, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<TestServer & { server: http.Server; seen: http.IncomingHttpHeaders[] }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    if (handler?.(req, res) === true) return;
    req.resume();
    res.end(name);
  });
  return listenOn(server).then((s) => ({ ...s, server, seen }));
}

/** A TCP backend that reads until the client half-closes, then answers `<name>:<what it read>` and closes. */
export function tcpBackend(name: string): Promise<TestServer & { connections: () => number }> {
  let count = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    count++;
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(`${name}:${Buffer.concat(chunks).toString()}`));
    socket.on('error', () => socket.destroy());
  });
  return listenOn(server).then((s) => ({ ...s, connections: () => count }));
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function request(port: number, opts: { path?: string; host?: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: opts.path ?? '/',
      method: opts.method ?? 'GET',
      agent: false,
      headers: { ...(opts.host === undefined ? {} : { host: opts.host }), ...opts.headers },
      timeout: 20_000,
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.end(opts.body);
  });
}

/** Connects, sends `payload`, half-closes and returns everything the other side sent before closing. */
export function tcpExchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.setTimeout(20_000, () => s.destroy(new Error('tcp exchange timed out')));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
    s.end(payload);
  });
}

export function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
