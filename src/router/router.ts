// The data plane as one object: applies routing tables (opening new
// listeners before closing removed ones, so a failed bind leaves the old
// table serving), counts per-backend and per-route traffic, enforces the edge
// limits and drains. No I/O beyond its own sockets; the admin API and
// persistence sit on top of it.

import type net from 'node:net';
import { RouterListenError } from '../errors.js';
import { BackendRegistry } from './backends.js';
import { Deadlines } from './deadlines.js';
import { ConnectionGate, type GateCounts } from './gate.js';
import { createL4Listener, type L4Listener, type L4Options } from './l4.js';
import { createL7Server, indexRoutes, noEvents, type EdgeEvents, type L7Routes, type L7Server } from './l7.js';
import { DEFAULT_LIMITS, trustedProxyMatcher, type EdgeLimits } from './limits.js';
import { RouteStatsRegistry, type RouteVersionStats } from './route-stats.js';
import type { Backend, RoutingTable } from './table.js';

export interface RouterOptions {
  /** Host the shared HTTP entry binds (default 0.0.0.0). */
  httpHost: string;
  /** Used when the table names no httpPort. */
  httpPort: number;
  accessLog?: (line: string) => void;
  /** Client connections read into buffers of their own (accept.ts); default true, false takes Node's public path. */
  ownReads?: boolean;
  /** Default: DEFAULT_LIMITS. */
  limits?: EdgeLimits;
}

export interface BackendStats {
  id: string;
  host: string;
  port: number;
  inFlight: number;
  total: number;
  errors: number;
  listed: boolean;
  draining: boolean;
  /** Out of rotation after a refused connect (passive health). */
  ejected: boolean;
  /** Times a refused connect ejected it. */
  ejections: number;
}

/** What the edge limits did: open and refused connections, timeouts, retries. */
export interface EdgeStats extends GateCounts, EdgeEvents {}

const EMPTY: RoutingTable = { version: 0, l4: [], l7: [], httpPort: undefined };

export class Router {
  private readonly opts: RouterOptions;
  private readonly registry = new BackendRegistry();
  private readonly l4 = new Map<string, L4Listener>();
  private routes: L7Routes = { byHost: new Map(), anyHost: [] };
  private http: { server: L7Server; port: number } | undefined;
  private tableValue: RoutingTable = EMPTY;
  private readonly routeStats = new RouteStatsRegistry();
  private readonly deadlines: Deadlines;
  private readonly gate: ConnectionGate;
  private readonly events = noEvents();
  private readonly l4Options: L4Options;
  readonly limits: EdgeLimits;

  constructor(opts: RouterOptions) {
    this.opts = opts;
    const limits = (this.limits = opts.limits ?? DEFAULT_LIMITS);
    this.deadlines = new Deadlines(Math.min(limits.headTimeoutMs, limits.bodyTimeoutMs, limits.keepAliveTimeoutMs, limits.tunnelIdleTimeoutMs, limits.l4IdleTimeoutMs));
    this.gate = new ConnectionGate(limits.maxConnections, limits.maxConnectionsPerIp);
    this.l4Options = { ownReads: opts.ownReads ?? true, limits, deadlines: this.deadlines, gate: this.gate, events: this.events };
  }

  get table(): RoutingTable {
    return this.tableValue;
  }

  /** Swaps to `table` as one step for new traffic; in-flight work on removed backends or listeners carries on. */
  async apply(table: RoutingTable): Promise<void> {
    const wanted = new Map(table.l4.map((r) => [`${r.listen.host}:${r.listen.port}`, r]));
    const httpPort = table.httpPort ?? this.opts.httpPort;
    const opened: { key: string; listener: L4Listener }[] = [];
    let newHttp: { server: L7Server; port: number } | undefined;
    try {
      for (const [key, r] of wanted) {
        if (this.l4.has(key)) continue;
        const listener = createL4Listener(this.registry.pool([]), this.l4Options);
        await listen(listener.server, r.listen.host, r.listen.port);
        opened.push({ key, listener });
      }
      if (this.http?.port !== httpPort) {
        const server = createL7Server({
          routes: () => this.routes, accessLog: this.opts.accessLog, ownReads: this.opts.ownReads ?? true,
          limits: this.limits, deadlines: this.deadlines, gate: this.gate, events: this.events, trusted: trustedProxyMatcher(this.limits.trustedProxies),
        });
        await listen(server, this.opts.httpHost, httpPort);
        newHttp = { server, port: httpPort };
      }
    } catch (err) {
      for (const o of opened) o.listener.server.close();
      newHttp?.server.close();
      throw err;
    }
    // From here on nothing can fail: the swap is synchronous.
    const all: Backend[] = [...table.l4.flatMap((r) => r.backends), ...table.l7.flatMap((r) => r.backends)];
    this.registry.update(all);
    for (const o of opened) this.l4.set(o.key, o.listener);
    for (const [key, listener] of this.l4) {
      const r = wanted.get(key);
      if (r === undefined) {
        closeL4(listener);
        this.l4.delete(key);
      } else {
        listener.pool = this.registry.pool(r.backends);
      }
    }
    this.routes = indexRoutes(table.l7.map((r) => ({
      host: r.host, pathPrefix: r.pathPrefix, sticky: r.sticky, pool: this.registry.pool(r.backends), counters: this.routeStats.route(routeName(r)),
    })));
    if (newHttp !== undefined) {
      const old = this.http;
      this.http = newHttp;
      if (old !== undefined) closeHttp(old.server);
    }
    this.tableValue = table;
  }

  stats(): BackendStats[] {
    this.registry.sweep();
    return this.registry.all().map((b) => ({
      id: b.id, host: b.host, port: b.port, inFlight: b.inFlight, total: b.total, errors: b.errors, listed: b.listed, draining: b.draining,
      ejected: !b.inRotation && b.usable, ejections: b.ejections,
    })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Requests, errors and latency per L7 route and version, cumulative since the router started. */
  routeCounters(): RouteVersionStats[] {
    return this.routeStats.snapshot();
  }

  edge(): EdgeStats {
    return { ...this.gate.counts(), ...this.events };
  }

  /**
   * Takes the backend out of rotation and waits for its in-flight work.
   * Undefined when the router does not know the id (nothing to wait for).
   */
  async drain(id: string, timeoutMs: number): Promise<{ drained: boolean; inFlight: number } | undefined> {
    const b = this.registry.get(id);
    if (b === undefined) return undefined;
    b.draining = true;
    const drained = await b.whenIdle(timeoutMs);
    return { drained, inFlight: b.inFlight };
  }

  /** The bound addresses, for tests and logs. */
  addresses(): { http: number | undefined; l4: string[] } {
    const port = this.http?.server.address();
    return { http: typeof port === 'object' && port !== null ? port.port : undefined, l4: [...this.l4.keys()] };
  }

  /** Stops accepting, gives in-flight work up to `graceMs`, then cuts what is left. */
  async close(graceMs: number): Promise<void> {
    const servers: net.Server[] = [...[...this.l4.values()].map((l) => l.server)];
    if (this.http !== undefined) servers.push(this.http.server);
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.http?.server.closeIdleConnections();
    const idle = Promise.all(this.registry.all().map((b) => b.whenIdle(graceMs)));
    await Promise.race([Promise.all([closed, idle]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    for (const l of this.l4.values()) for (const c of l.connections) c.destroy();
    this.http?.server.closeAllConnections();
    this.registry.closeAll();
    this.l4.clear();
    this.http = undefined;
    this.deadlines.stop();
  }
}

/** The label of a route's counters: its name (`stack/service`), else host and path prefix. */
export function routeName(r: { name?: string | undefined; host?: string | undefined; pathPrefix: string }): string {
  return r.name ?? `${r.host ?? '*'}${r.pathPrefix}`;
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new RouterListenError(`${host}:${port}`, err));
    server.once('error', onError);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Stops accepting; open connections finish on their own. */
function closeL4(l: L4Listener): void {
  l.server.close();
}

function closeHttp(server: L7Server): void {
  server.close();
  server.closeIdleConnections();
}
