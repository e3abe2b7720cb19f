// The daemon's routing table between two snapshots. Each pass builds it
// from Git and the pass's snapshot; while that pass applies, rollout steps
// change it (a ready twin joins, a replica to be stopped leaves, a twin takes
// its replica's name) and each change is pushed at once, so the router never
// sends a request to a replica that is not ready or about to stop.

import type { AdmittedReplica, Traffic } from '../apply/traffic.js';
import type { DesiredState } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import { buildRoutingTable, type BuiltTable, type TableCertificate } from '../router/routes.js';

export interface RoutedTrafficOptions {
  httpPort: number;
  /** Replicas whose Capstan probe has not (or no longer) passed: they take no traffic. */
  notReady: (containerId: string) => boolean;
  /** Sends the table to the router; undefined without one (the table still feeds /api/endpoints). */
  push: ((table: BuiltTable['table']) => Promise<void>) | undefined;
  drain: ((backendId: string, timeoutMs: number) => Promise<void>) | undefined;
  /** Makes sure the router holds the certificates TLS routes name, before a table naming them is pushed. */
  certificates?: ((certs: readonly TableCertificate[], revision: string) => Promise<void>) | undefined;
  logger: Logger;
}

export class RoutedTraffic implements Traffic {
  private base: { desired: DesiredState; observed: ObservedState } | undefined;
  private readonly added = new Map<string, ObservedContainer>();
  private readonly removed = new Set<string>();
  private readonly names = new Map<string, string>();
  private built: BuiltTable | undefined;
  private lastProblems = '[]';
  /** One push at a time, in order: the router must never go back to an older table. */
  private pushing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RoutedTrafficOptions) {}

  /** The table now (GET /api/endpoints). */
  table(): BuiltTable['table'] {
    return this.built?.table ?? { l4: [], l7: [] };
  }

  /** A new pass's snapshot replaces whatever the last pass's rollout steps changed. */
  planned(desired: DesiredState, observed: ObservedState): Promise<void> {
    this.base = { desired, observed };
    this.added.clear();
    this.removed.clear();
    this.names.clear();
    return this.rebuild();
  }

  admit(replica: AdmittedReplica): Promise<void> {
    const labels = {};
    this.added.set(replica.containerId, {
      id: replica.containerId, name: replica.name, stack: replica.stack, service: replica.service, number: 0, specHash: replica.specHash, revision: '',
      state: 'running', health: undefined, labels, image: '', ip: replica.ip, lastRun: undefined, healthcheck: undefined,
    });
    return this.rebuild();
  }

  async retire(containerId: string, graceMs: number): Promise<void> {
    const name = this.nameOf(containerId);
    const backendIds = name === undefined ? [] : this.backendIdsOf(name);
    this.removed.add(containerId);
    await this.rebuild();
    const drain = this.opts.drain;
    if (drain === undefined) return;
    await Promise.all(backendIds.map((id) => drain(id, graceMs).catch((err: unknown) => this.opts.logger.warn({ err, backend: id }, `cannot drain ${id}; stopping it anyway`))));
  }

  renamed(containerId: string, name: string): Promise<void> {
    this.names.set(containerId, name);
    return this.rebuild();
  }

  private nameOf(containerId: string): string | undefined {
    return this.names.get(containerId) ?? this.added.get(containerId)?.name ?? this.base?.observed.containers.find((c) => c.id === containerId)?.name;
  }

  private backendIdsOf(name: string): string[] {
    const table = this.table();
    const all = [...(table.l4 ?? []).flatMap((r) => r.backends), ...(table.l7 ?? []).flatMap((r) => r.backends)];
    return [...new Set(all.map((b) => b.id).filter((id) => id.startsWith(`${name}:`)))];
  }

  /** Readiness changed (a probe): the same snapshot, filtered anew. */
  refresh(): Promise<void> {
    return this.rebuild();
  }

  private rebuild(): Promise<void> {
    if (this.base === undefined) return Promise.resolve();
    const containers = [...this.base.observed.containers, ...this.added.values()]
      .filter((c) => !this.removed.has(c.id) && !this.opts.notReady(c.id))
      .map((c) => {
        const name = this.names.get(c.id);
        return name === undefined ? c : { ...c, name };
      });
    const built = buildRoutingTable(this.base.desired, { ...this.base.observed, containers }, this.opts.httpPort);
    const problems = JSON.stringify(built.problems);
    if (built.problems.length > 0 && problems !== this.lastProblems) this.opts.logger.warn({ problems: built.problems }, 'some routes are left out');
    this.lastProblems = problems;
    this.built = built;
    const push = this.opts.push;
    if (push === undefined) return Promise.resolve();
    const certificates = this.opts.certificates;
    const revision = this.base.desired.revision;
    // Each push sends the newest table at its turn, so a burst of changes costs one push per change at most and never reorders.
    const step = this.pushing.then(async () => {
      const certs = this.built?.certificates ?? [];
      if (certificates !== undefined && certs.length > 0) {
        // A certificate that cannot be read leaves its routes without it (their handshakes fail); every other route is pushed all the same.
        await certificates(certs, revision).catch((err: unknown) => this.opts.logger.warn({ err, certificates: certs.map((c) => `${c.certificate.name}+${c.key.name}`) }, 'cannot hand a TLS certificate to the router'));
      }
      await push(this.table());
    });
    this.pushing = step.catch((err: unknown) => this.opts.logger.warn({ err }, 'cannot push the routing table'));
    return this.pushing;
  }

  /** Waits for the pushes in flight (shutdown). */
  settled(): Promise<void> {
    return this.pushing;
  }
}
