// The daemon's routing table between snapshots. Each lane pass rebuilds its
// stack's part from Git and the pass's snapshot; rollout steps change it in
// between (a ready twin joins, a replica to be stopped leaves, a twin takes
// its replica's name) and each change is pushed at once, so the router never
// sends a request to a replica that is not ready or about to stop. A table
// equal to the last one pushed is not sent again.

import type { AdmittedReplica, Traffic } from '../apply/traffic.js';
import type { DesiredStack, DesiredState } from '../desired/model.js';
import type { ProbeVerdict } from '../health/readiness.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer } from '../observed/model.js';
import { buildRoutingTable, type BuiltTable, type TableCertificate } from '../router/routes.js';
import type { TrafficSplit } from '../strategies/step.js';

export interface RoutedTrafficOptions {
  httpPort: number;
  /** The prober's verdict of a replica with an x-capstan.probe: one that has not (or no longer) passed takes no traffic. */
  probeOf: (containerId: string) => ProbeVerdict | undefined;
  /** Sends the table to the router; undefined without one (the table still feeds /api/endpoints). */
  push: ((table: BuiltTable['table']) => Promise<void>) | undefined;
  drain: ((backendId: string, timeoutMs: number) => Promise<void>) | undefined;
  /** Makes sure the router holds the certificates TLS routes name, before a table naming them is pushed. */
  certificates?: ((certs: readonly TableCertificate[], revision: string) => Promise<void>) | undefined;
  logger: Logger;
}

export class RoutedTraffic implements Traffic {
  /** Each lane's last plan of its stack: what Git wants and what its snapshot saw. */
  private readonly bases = new Map<string, { desired: DesiredStack | undefined; containers: readonly ObservedContainer[]; revision: string | undefined }>();
  private readonly added = new Map<string, ObservedContainer>();
  private readonly removed = new Map<string, string>();
  private readonly names = new Map<string, { stack: string; name: string }>();
  /** Canary splits by `stack/service`: set by a rollout step, and anew from the records at each lane pass. */
  private readonly splits = new Map<string, TrafficSplit>();
  /** What each stack's part of the table was built from, to skip rebuilding an unchanged one. */
  private readonly keys = new Map<string, string>();
  private built: BuiltTable | undefined;
  private lastProblems = '[]';
  private lastPushed = '';
  /** One push at a time, in order: the router must never go back to an older table. */
  private pushing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RoutedTrafficOptions) {}

  /** The table now (GET /api/endpoints). */
  table(): BuiltTable['table'] {
    return this.built?.table ?? { l4: [], l7: [] };
  }

  /**
   * A lane's new snapshot of its stack replaces what that stack's earlier
   * steps changed; `drained` are replicas a rollout in progress keeps out of
   * rotation (its record says so, so this survives restarts too).
   */
  planned(stack: string, desired: DesiredStack | undefined, containers: readonly ObservedContainer[], drained: readonly string[] = [], revision?: string, splits: ReadonlyMap<string, TrafficSplit> = new Map()): Promise<void> {
    // A lane's no-op pass changes nothing here: the table of every stack is not rebuilt for it.
    const key = baseKey(desired, containers, drained, revision, splits);
    const unchanged = this.keys.get(stack) === key && ![...this.added.values(), ...this.names.values()].some((x) => x.stack === stack);
    this.keys.set(stack, key);
    if (unchanged) return Promise.resolve();
    this.bases.set(stack, { desired, containers, revision });
    for (const [id, c] of this.added) if (c.stack === stack) this.added.delete(id);
    for (const [id, s] of this.removed) if (s === stack) this.removed.delete(id);
    for (const [id, n] of this.names) if (n.stack === stack) this.names.delete(id);
    for (const id of drained) this.removed.set(id, stack);
    for (const key of this.splits.keys()) if (key.startsWith(`${stack}/`)) this.splits.delete(key);
    for (const [service, split] of splits) this.splits.set(`${stack}/${service}`, split);
    if (desired === undefined && containers.length === 0) this.bases.delete(stack);
    return this.rebuild();
  }

  admit(replica: AdmittedReplica): Promise<void> {
    this.removed.delete(replica.containerId);
    this.added.set(replica.containerId, admittedReplica(replica));
    return this.rebuild();
  }

  async retire(containerId: string, graceMs: number): Promise<void> {
    const found = this.find(containerId);
    const backendIds = found === undefined ? [] : this.backendIdsOf(this.names.get(containerId)?.name ?? found.name);
    this.removed.set(containerId, found?.stack ?? '');
    await this.rebuild();
    await this.drainAll(backendIds, graceMs);
  }

  private async drainAll(backendIds: readonly string[], graceMs: number): Promise<void> {
    const drain = this.opts.drain;
    if (drain === undefined) return;
    await Promise.all(backendIds.map((id) => drain(id, graceMs).catch((err: unknown) => this.opts.logger.warn({ err, backend: id }, `cannot drain ${id}; stopping it anyway`))));
  }

  split(stack: string, service: string, split: TrafficSplit | undefined): Promise<void> {
    if (split === undefined) this.splits.delete(`${stack}/${service}`);
    else this.splits.set(`${stack}/${service}`, split);
    return this.rebuild();
  }

  /** Blue-green: both sets change in one table, then the ones leaving finish what they have. */
  async switchOver(admit: readonly AdmittedReplica[], retire: readonly string[], graceMs: number): Promise<void> {
    for (const r of admit) {
      this.removed.delete(r.containerId);
      this.added.set(r.containerId, admittedReplica(r));
    }
    const leaving = retire.flatMap((id) => {
      const found = this.find(id);
      this.removed.set(id, found?.stack ?? '');
      return found === undefined ? [] : this.backendIdsOf(this.names.get(id)?.name ?? found.name);
    });
    await this.rebuild();
    await this.drainAll(leaving, graceMs);
  }

  renamed(containerId: string, name: string): Promise<void> {
    this.names.set(containerId, { stack: this.find(containerId)?.stack ?? '', name });
    return this.rebuild();
  }

  /** Readiness changed (a probe): the same snapshots, filtered anew. */
  refresh(): Promise<void> {
    return this.rebuild();
  }

  /** Every replica of the lanes' last snapshots (the dashboard tells the router's backends apart by them). */
  replicas(): ObservedContainer[] {
    return [...this.bases.values()].flatMap((b) => b.containers);
  }

  /**
   * The certificates the table names, per stack with the revision its
   * secrets are read at. One that cannot be read leaves its routes without
   * it (their handshakes fail); every other route is pushed all the same.
   */
  private async handCertificates(hand: NonNullable<RoutedTrafficOptions['certificates']>): Promise<void> {
    const certs = this.built?.certificates ?? [];
    for (const [stack, base] of this.bases) {
      const mine = certs.filter((c) => c.id.startsWith(`${stack}.`));
      if (mine.length === 0 || base.revision === undefined) continue;
      await hand(mine, base.revision).catch((err: unknown) => this.opts.logger.warn({ err, certificates: mine.map((c) => `${c.certificate.name}+${c.key.name}`) }, 'cannot hand a TLS certificate to the router'));
    }
  }

  /** Waits for the pushes in flight (shutdown). */
  settled(): Promise<void> {
    return this.pushing;
  }

  private find(containerId: string): ObservedContainer | undefined {
    const added = this.added.get(containerId);
    if (added !== undefined) return added;
    for (const base of this.bases.values()) {
      const c = base.containers.find((x) => x.id === containerId);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  private backendIdsOf(name: string): string[] {
    const table = this.table();
    const all = [...(table.l4 ?? []).flatMap((r) => r.backends), ...(table.l7 ?? []).flatMap((r) => r.backends)];
    return [...new Set(all.map((b) => b.id).filter((id) => id.startsWith(`${name}:`)))];
  }

  private rebuild(): Promise<void> {
    const stacks = [...this.bases.keys()].sort();
    const desired: DesiredState = { revision: '', stacks: stacks.flatMap((s) => { const d = this.bases.get(s)?.desired; return d === undefined ? [] : [d]; }) };
    const containers = [...stacks.flatMap((s) => this.bases.get(s)?.containers ?? []), ...this.added.values()]
      .filter((c) => !this.removed.has(c.id))
      .map((c) => {
        const name = this.names.get(c.id)?.name;
        return name === undefined ? c : { ...c, name };
      });
    const built = buildRoutingTable(desired, { instance: '', containers, networks: [], volumes: [] }, this.opts.httpPort, this.opts.probeOf, (stack, service) => this.splits.get(`${stack}/${service}`));
    const problems = JSON.stringify(built.problems);
    if (built.problems.length > 0 && problems !== this.lastProblems) this.opts.logger.warn({ problems: built.problems }, 'some routes are left out');
    this.lastProblems = problems;
    this.built = built;
    const push = this.opts.push;
    if (push === undefined) return Promise.resolve();
    // Each push sends the newest table at its turn, so a burst of changes costs one push per change at most and never reorders; an unchanged table is not sent.
    const certificates = this.opts.certificates;
    const step = this.pushing.then(async () => {
      const table = this.table();
      const text = JSON.stringify(table);
      if (text === this.lastPushed) return;
      if (certificates !== undefined) await this.handCertificates(certificates);
      await push(table);
      this.lastPushed = text;
    });
    this.pushing = step.catch((err: unknown) => this.opts.logger.warn({ err }, 'cannot push the routing table'));
    return this.pushing;
  }
}

function admittedReplica(r: AdmittedReplica): ObservedContainer {
  return {
    id: r.containerId, name: r.name, stack: r.stack, service: r.service, number: 0, specHash: r.specHash, revision: '',
    state: 'running', health: undefined, labels: {}, image: '', ip: r.ip, lastRun: undefined, healthcheck: undefined,
  };
}

/** Everything of a lane's snapshot the table depends on. */
function baseKey(desired: DesiredStack | undefined, containers: readonly ObservedContainer[], drained: readonly string[], revision: string | undefined, splits: ReadonlyMap<string, TrafficSplit>): string {
  // Routes and their certificates (by content digest) are outside the spec hash: they count here.
  const services = desired?.services.map((s) => `${s.name}:${s.specHash}:${JSON.stringify(s.spec.ports)}:${JSON.stringify(s.spec.capstan.routes)}:${JSON.stringify(s.spec.routeTls ?? {})}`) ?? [];
  return JSON.stringify([services, containers.map((c) => `${c.id}:${c.name}:${c.state}:${c.health ?? ''}:${c.ip ?? ''}`), drained, revision ?? '', [...splits]]);
}
