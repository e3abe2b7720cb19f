// Live state of every backend the router knows, keyed by the backend id so
// counters, draining, ejection and keep-alive pools survive table swaps. A
// Pool is one route's weighted round-robin over these states; it never blocks
// or allocates per pick.
//
// Passive health (Envoy's outlier detection, for connect failures): a backend
// that refuses a connection is ejected from rotation for a window that doubles
// with each consecutive ejection (1 s up to 30 s) and resets at the next
// successful connect, whatever the operator's probes say meanwhile. When every
// usable backend is ejected, they are tried anyway (better a chance than 503).

import type { RouteCounters, VersionCounters } from './route-stats.js';
import type { Backend } from './table.js';
import type { Upstream } from './upstream.js';

/** Idle upstream connections kept per backend; more are closed when released. */
const MAX_IDLE = 256;
const EJECT_BASE_MS = 1_000;
const EJECT_MAX_MS = 30_000;

export class BackendState {
  readonly id: string;
  host: string;
  port: number;
  inFlight = 0;
  total = 0;
  errors = 0;
  /** In the current table. A removed backend only finishes what it has. */
  listed = true;
  /** Out of rotation by POST /drain until the next table lists it again. */
  draining = false;
  /** Bumped when the address changes, so connections to the old one are not reused. */
  epoch = 0;
  /** The spec hash of the replica behind it, and its slot: per-version counters key on them. */
  version: string;
  slot: string;
  /** Out of rotation until then (ms since the epoch) after a refused connect; 0: in rotation. */
  ejectedUntil = 0;
  /** Ejections since the last successful connect: the window doubles with each. */
  private consecutive = 0;
  ejections = 0;
  // The counters of the route and version it served last: most backends serve one route, so the lookup is a compare.
  private countedRoute: RouteCounters | undefined;
  private counted: VersionCounters | undefined;
  private idle: Upstream[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(b: Backend) {
    this.id = b.id;
    this.host = b.host;
    this.port = b.port;
    this.version = b.version ?? '';
    this.slot = b.slot ?? '';
  }

  get usable(): boolean {
    return this.listed && !this.draining;
  }

  /** Usable and not ejected; reads the clock only while an ejection is on. */
  get inRotation(): boolean {
    if (!this.listed || this.draining) return false;
    if (this.ejectedUntil === 0) return true;
    if (this.ejectedUntil > Date.now()) return false;
    this.ejectedUntil = 0;
    return true;
  }

  /** Its counters on `route`, for its current version. */
  countersOn(route: RouteCounters): VersionCounters {
    if (this.countedRoute !== route || this.counted === undefined) {
      this.countedRoute = route;
      this.counted = route.of(this.version, this.slot);
    }
    return this.counted;
  }

  /** A new table says which version it runs now. */
  relabel(version: string, slot: string): void {
    if (version === this.version && slot === this.slot) return;
    this.version = version;
    this.slot = slot;
    this.countedRoute = undefined;
  }

  /** A connect to it failed: out of rotation for the next window. */
  connectFailed(): void {
    this.errors++;
    this.ejections++;
    const window = Math.min(EJECT_MAX_MS, EJECT_BASE_MS * 2 ** Math.min(this.consecutive, 16));
    this.consecutive++;
    this.ejectedUntil = Date.now() + window;
  }

  /** A connect to it succeeded: the next ejection starts from the shortest window again. */
  connected(): void {
    this.consecutive = 0;
    this.ejectedUntil = 0;
  }

  /** An idle keep-alive connection; LIFO so a hot socket is reused and cold ones time out. */
  takeIdle(): Upstream | undefined {
    for (let u = this.idle.pop(); u !== undefined; u = this.idle.pop()) if (u.alive) return u;
    return undefined;
  }

  /** Pools a connection whose last exchange ended cleanly, unless it is stale or not wanted. */
  putIdle(u: Upstream): void {
    if (u.epoch !== this.epoch || !this.listed || this.idle.length >= MAX_IDLE) u.close();
    else {
      u.idleNow();
      this.idle.push(u);
    }
  }

  moveTo(host: string, port: number): void {
    if (host === this.host && port === this.port) return;
    this.host = host;
    this.port = port;
    this.epoch++;
    this.connected();
    this.closePool();
  }

  begin(): void {
    this.inFlight++;
    this.total++;
  }

  end(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.releaseIfIdle();
  }

  /** Resolves true once nothing is in flight, false when the timeout passes first. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.idleWaiters.push(done);
    });
  }

  /** Closes the idle connections; ones in use are closed when released (putIdle). */
  closePool(): void {
    for (const u of this.idle) u.close();
    this.idle = [];
  }

  private releaseIfIdle(): void {
    if (this.inFlight !== 0) return;
    if (!this.listed) this.closePool();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** Smooth weighted round-robin (nginx's): even spread, and weights interleave rather than burst. */
export class Pool {
  readonly members: readonly BackendState[];
  private readonly weights: readonly number[];
  private readonly current: number[];
  private readonly uniform: boolean;
  private cursor = 0;

  constructor(members: readonly BackendState[], weights: readonly number[]) {
    this.members = members;
    this.weights = weights;
    this.current = members.map(() => 0);
    this.uniform = weights.every((w) => w === 1);
  }

  /**
   * The next backend in rotation, skipping `not` (one that just refused);
   * when all usable ones are ejected, the next usable one; undefined when none is usable.
   */
  pick(not?: BackendState): BackendState | undefined {
    return this.pickFrom(not, true) ?? this.pickFrom(not, false);
  }

  private pickFrom(not: BackendState | undefined, rotation: boolean): BackendState | undefined {
    const n = this.members.length;
    if (this.uniform) {
      for (let i = 0; i < n; i++) {
        const b = this.members[this.cursor]!;
        this.cursor = this.cursor + 1 === n ? 0 : this.cursor + 1;
        if (b !== not && (rotation ? b.inRotation : b.usable)) return b;
      }
      return undefined;
    }
    let total = 0;
    let best = -1;
    for (let i = 0; i < n; i++) {
      const b = this.members[i]!;
      const w = this.weights[i]!;
      if (b === not || w === 0 || !(rotation ? b.inRotation : b.usable)) continue;
      total += w;
      this.current[i]! += w;
      if (best === -1 || this.current[i]! > this.current[best]!) best = i;
    }
    if (best === -1) return undefined;
    this.current[best]! -= total;
    return this.members[best];
  }

  byId(id: string): BackendState | undefined {
    for (const b of this.members) if (b.id === id && b.inRotation) return b;
    return undefined;
  }
}

/** All backends by id; `update` marks who the new table lists, `pool` builds a route's pool from it. */
export class BackendRegistry {
  private readonly states = new Map<string, BackendState>();

  update(listed: readonly Backend[]): void {
    const ids = new Set<string>();
    for (const b of listed) {
      ids.add(b.id);
      const s = this.states.get(b.id);
      if (s === undefined) {
        this.states.set(b.id, new BackendState(b));
      } else {
        s.listed = true;
        s.draining = false;
        s.relabel(b.version ?? '', b.slot ?? '');
        s.moveTo(b.host, b.port);
      }
    }
    for (const [id, s] of this.states) {
      if (ids.has(id)) continue;
      s.listed = false;
      if (s.inFlight === 0) {
        s.closePool();
        this.states.delete(id);
      }
    }
  }

  pool(backends: readonly Backend[]): Pool {
    return new Pool(backends.map((b) => this.states.get(b.id)!), backends.map((b) => b.weight));
  }

  get(id: string): BackendState | undefined {
    return this.states.get(id);
  }

  all(): BackendState[] {
    return [...this.states.values()];
  }

  /** Forget removed backends that have finished. */
  sweep(): void {
    for (const [id, s] of this.states) if (!s.listed && s.inFlight === 0) this.states.delete(id);
  }

  closeAll(): void {
    for (const s of this.states.values()) s.closePool();
  }
}
