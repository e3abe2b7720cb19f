// Builds the routing table from the desired state and one observed snapshot
// (pure: no I/O, no clock). Published ports become L4 listeners over every
// ready replica's container port; `x-capstan.route` (parsed and checked with
// the manifests) becomes L7 entries.
// A replica is routed when it is ready (health/readiness.ts: the one
// definition, with what the prober knows) and has an address.

import type { DesiredState } from '../desired/model.js';
import { isReady, type ProbeVerdict } from '../health/readiness.js';
import type { ObservedContainer, ObservedState } from '../observed/model.js';
import type { RoutingTableInput } from './table.js';

export interface BuiltTable {
  table: RoutingTableInput;
  /** Routes left out, one sentence each (e.g. a port two services want). */
  problems: string[];
}

type TableBackend = { id: string; host: string; port: number; weight: number };

/** `probeOf`: the prober's verdict of a replica with a probe (none: its healthcheck alone decides). */
export function buildRoutingTable(desired: DesiredState, observed: ObservedState, httpPort: number, probeOf: (containerId: string) => ProbeVerdict | undefined = () => undefined): BuiltTable {
  const ready = (c: ObservedContainer): c is ObservedContainer & { ip: string } => c.ip !== undefined && isReady(c, probeOf(c.id));
  const problems: string[] = [];
  const l4: NonNullable<RoutingTableInput['l4']> = [];
  const l7: NonNullable<RoutingTableInput['l7']> = [];
  const listeners = new Set<string>();
  for (const stack of desired.stacks) {
    for (const service of stack.services) {
      const replicas = observed.containers
        .filter((c) => c.stack === stack.name && c.service === service.name && ready(c))
        .sort((a, b) => a.number - b.number || (a.name < b.name ? -1 : 1)) as (ObservedContainer & { ip: string })[];
      const to = (port: number): TableBackend[] => replicas.map((c) => ({ id: `${c.name}:${port}`, host: c.ip, port, weight: 1 }));
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
        l7.push({ ...(r.host === undefined ? {} : { host: r.host }), pathPrefix: r.pathPrefix, sticky: r.sticky, backends: to(r.port) });
      }
    }
  }
  return { table: { l4, l7, httpPort }, problems };
}
