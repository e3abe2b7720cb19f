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

/**
 * An HTTP backend on a bare socket, for exact bytes: each bodiless request
 * head gets `answer(head)` written as it is. Counts connections, so tests can
 * see keep-alive reuse.
 */
export function rawHttpBackend(answer: (head: string) => string): Promise<TestServer & { connections: () => number }> {
  let count = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        socket.write(answer(buf.slice(0, end)), 'latin1');
        buf = buf.slice(end + 4);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  // The router keeps idle keep-alive connections: close cuts them so it does not wait on them.
  return listenOn(server).then((s) => ({
    ...s,
    close: () => {
      for (const c of open) c.destroy();
      return s.close();
    },
    connections: () => count,
  }));
}

/**
 * Sends raw bytes and collects what comes back until `done(received)` says
 * so or the other side closes; `closed` tells which.
 */
export function rawExchange(port: number, payload: string | Buffer, done: (received: string) => boolean): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let received = '';
    s.setEncoding('latin1');
    s.setTimeout(20_000, () => s.destroy(new Error(`raw exchange timed out with: ${received.slice(0, 200)}`)));
    s.on('data', (d: string) => {
      received += d;
      if (done(received)) {
        s.destroy();
        resolve({ received, closed: false });
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve({ received, closed: true }));
    s.write(payload);
  });
}
