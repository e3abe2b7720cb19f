// The data plane as one object: applies routing tables (opening new
// listeners before closing removed ones, so a failed bind leaves the old
// table serving), counts per-backend and per-route traffic, enforces the edge
// limits and drains. No I/O beyond its own sockets; the admin API and
// persistence sit on top of it.

import type net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { RouterListenError } from '../errors.js';
import { AcmeManager, acmeCertificateId, type AcmeLog, type AcmeSettings } from './acme.js';
import { BackendRegistry } from './backends.js';
import { CertStore, type CertificateInfo } from './certs.js';
import { Deadlines } from './deadlines.js';
import { ConnectionGate, type GateCounts } from './gate.js';
import { createL4Listener, type L4Listener, type L4Options } from './l4.js';
import { HttpsEntry } from './https.js';
import { createL7Server, indexRoutes, noEvents, type EdgeEvents, type L7Options, type L7Routes, type L7Server } from './l7.js';
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
  /** The HTTPS entry's port when the table names none (default 8443); it is open while some route has `tls`. */
  httpsPort?: number;
  /** Where certificates (certs/) and the ACME account (acme/) are kept: <data-dir>/router. Without it, certificates live in memory only. */
  stateDir?: string;
  /** For routes with `tls: { acme: true }`. */
  acme?: AcmeSettings;
  log?: AcmeLog;
}

/** What GET /certificates shows: those held (no keys), and those routes name that are not there. */
export interface CertificateStatus {
  certificates: CertificateInfo[];
  missing: { host: string; certificate: string }[];
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
  private https: { entry: HttpsEntry; port: number } | undefined;
  readonly certs: CertStore;
  /** Host → the certificate id its TLS route names (ACME ones as acmeCertificateId). */
  private sni = new Map<string, string>();
  private readonly acme: AcmeManager | undefined;
  private readonly log: AcmeLog;
  /** The certificate id the HTTPS entry's default context holds, and the last ACME warning: neither is redone for each table. */
  private defaultCertificate: string | undefined;
  private acmeWarned = '';

  constructor(opts: RouterOptions) {
    this.opts = opts;
    this.log = opts.log ?? { info: () => undefined, warn: () => undefined };
    this.certs = new CertStore(opts.stateDir === undefined ? '' : path.join(opts.stateDir, 'certs'), opts.stateDir !== undefined);
    this.acme = opts.acme === undefined || opts.stateDir === undefined ? undefined : new AcmeManager(opts.acme, this.certs, path.join(opts.stateDir, 'acme'), this.log, (id) => this.certificatesChanged(id));
    const limits = (this.limits = opts.limits ?? DEFAULT_LIMITS);
    this.deadlines = new Deadlines(Math.min(limits.headTimeoutMs, limits.bodyTimeoutMs, limits.keepAliveTimeoutMs, limits.tunnelIdleTimeoutMs, limits.l4IdleTimeoutMs));
    this.gate = new ConnectionGate(limits.maxConnections, limits.maxConnectionsPerIp);
    this.l4Options = { ownReads: opts.ownReads ?? true, limits, deadlines: this.deadlines, gate: this.gate, events: this.events };
  }

  get table(): RoutingTable {
    return this.tableValue;
  }

  private entryOptions(proto: 'http' | 'https'): L7Options {
    return {
      routes: () => this.routes, accessLog: this.opts.accessLog, ownReads: this.opts.ownReads ?? true,
      limits: this.limits, deadlines: this.deadlines, gate: this.gate, events: this.events, trusted: trustedProxyMatcher(this.limits.trustedProxies), proto,
      challenge: this.acme === undefined ? undefined : (token) => this.acme?.challenges.get(token),
      httpsPort: () => this.https?.port ?? this.tableValue.httpsPort ?? this.opts.httpsPort ?? 8443,
    };
  }

  /** The certificate for an SNI name, looked up at each handshake: a new or renewed one serves the next handshake, open connections keep theirs. */
  private contextFor(servername: string): tls.SecureContext | undefined {
    const id = this.sni.get(servername);
    return id === undefined ? undefined : this.certs.get(id)?.context;
  }

  /** Reads the certificates earlier runs kept; returns the problems of files it skipped. */
  loadCertificates(): Promise<string[]> {
    return this.certs.load();
  }

  /** Keeps a certificate (PUT /certificates/<id>); the problem in words when it is unusable. */
  async putCertificate(id: string, cert: string, key: string): Promise<string | undefined> {
    const problem = await this.certs.put(id, cert, key);
    if (problem === undefined) this.certificatesChanged(id);
    return problem;
  }

  /**
   * A client that sends no SNI (one that asks by IP address) gets the first
   * TLS route's certificate, as nginx's default server does.
   */
  private certificatesChanged(changed?: string): void {
    const entry = this.https?.entry;
    if (entry === undefined) return;
    for (const id of this.sni.values()) {
      const held = this.certs.get(id);
      if (held === undefined) continue;
      if (id !== this.defaultCertificate || id === changed) {
        entry.server.setSecureContext(held.pem);
        this.defaultCertificate = id;
      }
      return;
    }
  }

  certificates(): CertificateStatus {
    const missing = [...this.sni].filter(([, id]) => this.certs.get(id) === undefined).map(([host, certificate]) => ({ host, certificate }));
    return { certificates: this.certs.list(), missing };
  }

  /** Swaps to `table` as one step for new traffic; in-flight work on removed backends or listeners carries on. */
  async apply(table: RoutingTable): Promise<void> {
    const wanted = new Map(table.l4.map((r) => [`${r.listen.host}:${r.listen.port}`, r]));
    const httpPort = table.httpPort ?? this.opts.httpPort;
    const tlsRoutes = table.l7.filter((r) => r.tls !== undefined && r.host !== undefined);
    const httpsPort = tlsRoutes.length === 0 ? undefined : table.httpsPort ?? this.opts.httpsPort ?? 8443;
    const opened: { key: string; listener: L4Listener }[] = [];
    let newHttp: { server: L7Server; port: number } | undefined;
    let newHttps: { entry: HttpsEntry; port: number } | undefined;
    try {
      for (const [key, r] of wanted) {
        if (this.l4.has(key)) continue;
        const listener = createL4Listener(this.registry.pool([]), this.l4Options);
        await listen(listener.server, r.listen.host, r.listen.port);
        opened.push({ key, listener });
      }
      if (this.http?.port !== httpPort) {
        const server = createL7Server(this.entryOptions('http'));
        await listen(server, this.opts.httpHost, httpPort);
        newHttp = { server, port: httpPort };
      }
      if (httpsPort !== undefined && this.https?.port !== httpsPort) {
        const entry = new HttpsEntry(this.entryOptions('https'), (name) => this.contextFor(name));
        await listen(entry.server, this.opts.httpHost, httpsPort);
        newHttps = { entry, port: httpsPort };
      }
    } catch (err) {
      for (const o of opened) o.listener.server.close();
      newHttp?.server.close();
      newHttps?.entry.server.close();
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
      redirectHttp: r.redirectHttp && r.tls !== undefined,
    })));
    if (newHttp !== undefined) {
      const old = this.http;
      this.http = newHttp;
      if (old !== undefined) closeHttp(old.server);
    }
    this.sni = new Map(tlsRoutes.map((r) => {
      const host = r.host!.toLowerCase();
      return [host, r.tls !== undefined && 'acme' in r.tls ? acmeCertificateId(host) : r.tls!.certificate];
    }));
    const acmeHosts = tlsRoutes.filter((r) => r.tls !== undefined && 'acme' in r.tls).map((r) => r.host!);
    if (this.acme !== undefined) this.acme.want(acmeHosts);
    else if (acmeHosts.length > 0 && acmeHosts.join() !== this.acmeWarned) {
      this.acmeWarned = acmeHosts.join();
      this.log.warn({ hosts: acmeHosts }, 'routes ask for ACME certificates but the router has no --acme-directory: they get none');
    }
    if (newHttps !== undefined || httpsPort === undefined) {
      const old = this.https;
      this.https = newHttps;
      this.defaultCertificate = undefined;
      if (old !== undefined) closeHttp(old.entry);
    }
    this.certificatesChanged();
    this.tableValue = table;
  }

  /** Waits for ACME orders in progress (tests). */
  async acmeSettled(): Promise<void> {
    await this.acme?.settled();
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
  addresses(): { http: number | undefined; https: number | undefined; l4: string[] } {
    const port = this.http?.server.address();
    return { http: typeof port === 'object' && port !== null ? port.port : undefined, https: this.https?.port, l4: [...this.l4.keys()] };
  }

  /** Stops accepting, gives in-flight work up to `graceMs`, then cuts what is left. */
  async close(graceMs: number): Promise<void> {
    const servers: net.Server[] = [...[...this.l4.values()].map((l) => l.server)];
    if (this.http !== undefined) servers.push(this.http.server);
    if (this.https !== undefined) servers.push(this.https.entry.server);
    const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.http?.server.closeIdleConnections();
    this.https?.entry.closeIdleConnections();
    this.acme?.stop();
    const idle = Promise.all(this.registry.all().map((b) => b.whenIdle(graceMs)));
    await Promise.race([Promise.all([closed, idle]), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    for (const l of this.l4.values()) for (const c of l.connections) c.destroy();
    this.http?.server.closeAllConnections();
    this.https?.entry.closeAllConnections();
    this.registry.closeAll();
    this.l4.clear();
    this.http = undefined;
    this.https = undefined;
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

function closeHttp(entry: L7Server | HttpsEntry): void {
  (entry instanceof HttpsEntry ? entry.server : entry).close();
  entry.closeIdleConnections();
}
