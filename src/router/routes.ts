// Builds the routing table from the desired state and one observed snapshot
// (pure: no I/O, no clock). Published ports become L4 listeners over every
// ready replica's container port; `x-capstan.route` (parsed and checked with
// the manifests) becomes L7 entries.
// A replica is routed when it is ready (health/readiness.ts: the one
// definition, with what the prober knows) and has an address.

import { createHash } from 'node:crypto';
import { LABEL } from '../desired/labels.js';
import type { DesiredState } from '../desired/model.js';
import { isReady, type ProbeVerdict } from '../health/readiness.js';
import type { MountedFile } from '../manifests/model.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import type { TrafficSplit } from '../strategies/step.js';
import type { RoutingTableInput } from './table.js';

export interface BuiltTable {
  table: RoutingTableInput;
  /** Routes left out, one sentence each (e.g. a port two services want). */
  problems: string[];
  /** The certificates TLS routes name (by `tls.certificate` id): the operator reads these secrets and hands them to the router. */
  certificates: TableCertificate[];
}

export interface TableCertificate {
  id: string;
  /** The stack whose secrets they are: read from the revision that stack runs. */
  stack: string;
  certificate: MountedFile;
  key: MountedFile;
}

/** A certificate's id in the router: the stack and secret names, and a digest of both secrets' content ids, so new content gets a new id. */
export function certificateId(stack: string, certificate: MountedFile, key: MountedFile): string {
  const digest = createHash('sha256').update(`${certificate.digest}\0${key.digest}`).digest('hex').slice(0, 12);
  return `${stack}.${certificate.name}.${digest}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 255);
}

type TableBackend = { id: string; host: string; port: number; weight: number; version: string; slot?: string };

/** The version the router counts a replica's requests under: its spec hash, short as `docker ps` shortens ids. */
export function replicaVersion(specHash: string): string {
  return specHash.slice(0, 12);
}

/** `probeOf`: the prober's verdict of a replica with a probe (none: its healthcheck alone decides). */
/**
 * Backend weights for a canary split: `weight` percent of requests to the
 * ready replicas of `version`, the rest to the others, each side spread
 * evenly over its replicas. Integers within the table's 0-1000; a side with
 * no ready replica leaves the other with everything (better the old version
 * than no answer).
 */
export function splitWeights(versions: readonly string[], split: TrafficSplit | undefined): number[] {
  if (split === undefined) return versions.map(() => 1);
  const canaries = versions.filter((v) => v === split.version).length;
  const stable = versions.length - canaries;
  if (canaries === 0 || stable === 0) return versions.map(() => 1);
  let c = split.weight * stable;
  let s = (100 - split.weight) * canaries;
  const d = gcd(c, s);
  c /= d;
  s /= d;
  const most = Math.max(c, s);
  if (most > 1000) {
    c = c === 0 ? 0 : Math.max(1, Math.round((c * 1000) / most));
    s = s === 0 ? 0 : Math.max(1, Math.round((s * 1000) / most));
  }
  return versions.map((v) => (v === split.version ? c : s));
}

function gcd(a: number, b: number): number {
  return b === 0 ? Math.max(1, a) : gcd(b, a % b);
}

/** `probeOf`: the prober's verdict of a replica with a probe (none: its healthcheck alone decides); `splitOf`: a canary's split of a service. */
export function buildRoutingTable(
  desired: DesiredState, observed: ObservedState, httpPort: number,
  probeOf: (containerId: string) => ProbeVerdict | undefined = () => undefined,
  splitOf: (stack: string, service: string) => TrafficSplit | undefined = () => undefined,
): BuiltTable {
  const ready = (c: ObservedContainer): c is ObservedContainer & { ip: string } => c.ip !== undefined && isReady(c, probeOf(c.id));
  const problems: string[] = [];
  const l4: NonNullable<RoutingTableInput['l4']> = [];
  const l7: NonNullable<RoutingTableInput['l7']> = [];
  const listeners = new Set<string>();
  const certificates = new Map<string, TableCertificate>();
  // Grouped once: filtering every container for every service made each rebuild (one per lane pass that changed anything) quadratic in the engine's size.
  const byService = new Map<string, ObservedContainer[]>();
  for (const c of observed.containers) {
    const key = `${c.stack}\0${c.service}`;
    const list = byService.get(key);
    if (list === undefined) byService.set(key, [c]);
    else list.push(c);
  }
  for (const stack of desired.stacks) {
    for (const service of stack.services) {
      if (service.spec.capstan.routes.length === 0 && service.spec.ports.every((p) => p.published === undefined)) continue;
      const replicas = (byService.get(`${stack.name}\0${service.name}`) ?? [])
        .filter((c) => ready(c))
        .sort((a, b) => a.number - b.number || (a.name < b.name ? -1 : 1)) as (ObservedContainer & { ip: string })[];
      const weights = splitWeights(replicas.map((c) => c.specHash), splitOf(stack.name, service.name));
      const to = (port: number): TableBackend[] => replicas.map((c, i) => {
        const slot = c.labels[LABEL.slot];
        return { id: `${c.name}:${port}`, host: c.ip, port, weight: weights[i] ?? 1, version: replicaVersion(c.specHash), ...(slot === undefined ? {} : { slot }) };
      });
      const where = `${stack.name}/${service.name}`;
      for (const p of service.spec.ports) {
        if (p.published === undefined) continue;
        if (p.protocol !== 'tcp') {
          problems.push(`${where}: ${p.published}/${p.protocol} is not routed (the router serves TCP only)`);
          continue;
        }
        const host = p.hostIp === '' ? '0.0.0.0' : p.hostIp;
        const key = `${host}:${p.published}`;
        if (listeners.has(key) || p.published === httpPort) {
          problems.push(`${where}: host port ${key} is already taken by another route`);
          continue;
        }
        listeners.add(key);
        l4.push({ listen: { host, port: p.published }, protocol: 'tcp', backends: to(p.target) });
      }
      for (const r of service.spec.capstan.routes) {
        let tls: { certificate: string } | { acme: true } | undefined;
        if (r.tls !== undefined && 'acme' in r.tls) tls = { acme: true };
        else if (r.tls !== undefined) {
          const cert = service.spec.routeTls?.[r.tls.certificate];
          const key = service.spec.routeTls?.[r.tls.key];
          if (cert === undefined || key === undefined) {
            problems.push(`${where}: x-capstan.route.tls names secrets the stack does not declare`);
            continue;
          }
          const id = certificateId(stack.name, cert, key);
          certificates.set(id, { id, stack: stack.name, certificate: cert, key });
          tls = { certificate: id };
        }
        l7.push({
          name: where, ...(r.host === undefined ? {} : { host: r.host }), pathPrefix: r.pathPrefix, sticky: r.sticky, backends: to(r.port),
          ...(tls === undefined ? {} : { tls, redirectHttp: r.redirectHttp }),
        });
      }
    }
  }
  return { table: { l4, l7, httpPort }, problems, certificates: [...certificates.values()] };
}
