// Does a replica answer? One GET of /healthz on its IP (port 80), 200 ms at
// most, no keep-alive: how the heal benchmarks tell a replica is back.

import { request } from 'node:http';

export function httpOk(ip: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ host: ip, port: 80, path: '/healthz', timeout: 200, agent: false }, (r) => {
      r.resume();
      res((r.statusCode ?? 0) < 400);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => res(false));
    req.end();
  });
}
