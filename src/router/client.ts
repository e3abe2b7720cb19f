// The operator's side of the admin API: push a table, drain a backend, read
// stats, over the router's unix socket. Failures become catalogued errors.

import http from 'node:http';
import { RouterRejectedError, RouterUnavailableError } from '../errors.js';
import type { BackendStats } from './router.js';
import type { RoutingTable, RoutingTableInput } from './table.js';

export interface DrainResult {
  backendId: string;
  drained: boolean;
  inFlight: number;
  known: boolean;
}

export class RouterClient {
  readonly socketPath: string;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  /** Replaces the whole table; resolves to the version the router gave it. */
  async pushTable(table: RoutingTableInput): Promise<number> {
    return (await this.call<{ version: number }>('PUT', '/table', table, 30_000)).version;
  }

  table(): Promise<RoutingTable> {
    return this.call('GET', '/table', undefined, 5_000);
  }

  stats(): Promise<{ version: number; backends: BackendStats[] }> {
    return this.call('GET', '/stats', undefined, 5_000);
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

  private call<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        // One connection per call: a pooled socket the router already closed would fail the next call.
        agent: false,
        method,
        path,
        timeout: timeoutMs,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new RouterUnavailableError(this.socketPath, err)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new RouterUnavailableError(this.socketPath, err)));
        res.on('end', () => {
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
