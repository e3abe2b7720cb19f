// The operator's side of the admin API: push a table, drain a backend, read
// stats, over the router's unix socket or its loopback TCP port (with the
// bearer token). Failures become catalogued errors.

import fs from 'node:fs/promises';
import http from 'node:http';
import { RouterRejectedError, RouterUnavailableError } from '../errors.js';
import { formatAdminAddress, type AdminAddress } from './address.js';
import type { CertificateInfo } from './certs.js';
import type { BackendStats, CertificateStatus, EdgeStats } from './router.js';
import type { RouteVersionStats } from './route-stats.js';
import { routerPaths } from './store.js';
import type { RoutingTable, RoutingTableInput } from './table.js';

export interface DrainResult {
  backendId: string;
  drained: boolean;
  inFlight: number;
  known: boolean;
}

/** Where the router answers; a TCP endpoint also says how to get the token, read anew for each call (a restarted router writes a new one). */
export type RouterEndpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; token: () => Promise<string> };

/**
 * The client for a router started with `--data-dir dataDir` and this admin
 * address: the token is `envToken` (CAPSTAN_ROUTER_TOKEN) when set, else the
 * one the router wrote to <data-dir>/router/admin.token.
 */
export function routerClient(dataDir: string, address: AdminAddress | undefined, envToken: string | undefined): RouterClient {
  const paths = routerPaths(dataDir);
  if (address === undefined) return new RouterClient(paths.socket);
  if (address.kind === 'unix') return new RouterClient(address.path);
  const token = envToken === undefined ? async () => (await fs.readFile(paths.token, 'utf8')).trim() : () => Promise.resolve(envToken);
  return new RouterClient({ ...address, token });
}

export class RouterClient {
  readonly endpoint: RouterEndpoint;
  /** The socket path or HOST:PORT, for logs and errors. */
  readonly display: string;

  /** A string is the path of the unix socket. */
  constructor(endpoint: RouterEndpoint | string) {
    this.endpoint = typeof endpoint === 'string' ? { kind: 'unix', path: endpoint } : endpoint;
    this.display = formatAdminAddress(this.endpoint);
  }

  /** Replaces the whole table; resolves to the version the router gave it. */
  async pushTable(table: RoutingTableInput): Promise<number> {
    return (await this.call<{ version: number }>('PUT', '/table', table, 30_000)).version;
  }

  table(): Promise<RoutingTable> {
    return this.call('GET', '/table', undefined, 5_000);
  }

  stats(): Promise<{ version: number; backends: BackendStats[]; edge: EdgeStats }> {
    return this.call('GET', '/stats', undefined, 5_000);
  }

  /** Requests, errors and latency per L7 route and version (what a canary's analysis compares). */
  routes(): Promise<{ version: number; routes: RouteVersionStats[] }> {
    return this.call('GET', '/routes', undefined, 5_000);
  }

  /** Hands the router a certificate and its key (PEM) for TLS routes naming `id`; the key never comes back. */
  putCertificate(id: string, cert: string, key: string): Promise<CertificateInfo> {
    return this.call('PUT', `/certificates/${encodeURIComponent(id)}`, { cert, key }, 10_000);
  }

  certificates(): Promise<CertificateStatus> {
    return this.call('GET', '/certificates', undefined, 5_000);
  }

  /** The router's Prometheus text. */
  metrics(): Promise<string> {
    return this.call('GET', '/metrics', undefined, 5_000, 'text');
  }

  /** Waits until the backend has nothing in flight or `timeoutMs` passes; the backend is out of rotation either way. */
  drain(backendId: string, timeoutMs: number): Promise<DrainResult> {
    return this.call('POST', '/drain', { backendId, timeoutMs }, timeoutMs + 5_000);
  }

  async healthy(): Promise<boolean> {
    try {
      await this.call('GET', '/healthz', undefined, 2_000);
      return true;
    } catch {
      return false;
    }
  }

  private async call<T>(method: string, path: string, body: unknown, timeoutMs: number, as: 'json' | 'text' = 'json'): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const e = this.endpoint;
    let where: http.RequestOptions;
    if (e.kind === 'unix') where = { socketPath: e.path };
    else {
      let token: string;
      try {
        token = await e.token();
      } catch (err) {
        throw new RouterUnavailableError(this.display, err);
      }
      where = { host: e.host, port: e.port };
      headers.authorization = `Bearer ${token}`;
    }
    return new Promise<T>((resolve, reject) => {
      const req = http.request({
        ...where,
        // One connection per call: a pooled socket the router already closed would fail the next call.
        agent: false,
        method,
        path,
        timeout: timeoutMs,
        headers,
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new RouterUnavailableError(this.display, err)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new RouterUnavailableError(this.display, err)));
        res.on('end', () => {
          if (as === 'text' && res.statusCode === 200) {
            resolve(Buffer.concat(chunks).toString('utf8') as T);
            return;
          }
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new RouterRejectedError(res.statusCode ?? 0, 'answer is not JSON'));
            return;
          }
          if (res.statusCode !== 200) {
            const e = json as { error?: string; problems?: string[] };
            reject(new RouterRejectedError(res.statusCode ?? 0, [e.error ?? 'error', ...(e.problems ?? [])].join('; ')));
            return;
          }
          resolve(json as T);
        });
      });
      req.end(payload);
    });
  }
}
