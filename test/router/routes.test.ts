// The routing table from desired + observed: published ports → L4 over ready
// replicas' container ports, x-capstan.route → L7, problems named not thrown.

import { describe, expect, it } from 'vitest';
import type { ObservedContainer } from '../../src/observed/model.js';
import { LABEL } from '../../src/desired/labels.js';
import { buildRoutingTable } from '../../src/router/routes.js';
import { parseTable } from '../../src/router/table.js';
import { desiredService, desiredStack, desiredState, observedReplica } from '../helpers/specs.js';

const port = (published: number | undefined, target: number, hostIp = '', protocol: 'tcp' | 'udp' = 'tcp') => ({ hostIp, published, target, protocol });

describe('buildRoutingTable', () => {
  const api = desiredService('shop', 'api', {
    replicas: 3,
    ports: [port(8080, 80), port(undefined, 9000), port(5353, 53, '', 'udp')],
    capstan: { strategy: 'rolling', progressDeadlineMs: 60_000, probe: undefined, routes: [{ host: 'shop.example', pathPrefix: '/api', port: 80, sticky: true }] },
  });
  const db = desiredService('shop', 'db', { ports: [port(5432, 5432, '127.0.0.1')] });
  const desired = desiredState('a'.repeat(40), [desiredStack('shop', [api, db])]);
  const at = (c: ObservedContainer, ip: string | undefined, extra: Partial<ObservedContainer> = {}): ObservedContainer => ({ ...c, ...(ip === undefined ? {} : { ip }), ...extra });

  it('routes published TCP ports and x-capstan.route to ready replicas only', () => {
    const observed = {
      instance: 'test',
      networks: [],
      volumes: [],
      containers: [
        at(observedReplica(api, 2), '172.20.0.3', { labels: { ...observedReplica(api, 2).labels, [LABEL.slot]: 'canary' } }),
        at(observedReplica(api, 1), '172.20.0.2'),
        at(observedReplica(api, 3), '172.20.0.4', { health: 'starting' }),
        at(observedReplica(api, 4), '172.20.0.5', { state: 'exited' }),
        at(observedReplica(db, 1), '172.20.0.9'),
        at(observedReplica(db, 2), undefined),
      ],
    };
    const { table, problems } = buildRoutingTable(desired, observed, 8000);
    // Each replica's version is its spec hash, shortened; its slot label rides along.
    const v = observedReplica(api, 1).specHash.slice(0, 12);
    const apiBackends = (p: number) => [
      { id: `shop-api-1:${p}`, host: '172.20.0.2', port: p, weight: 1, version: v },
      { id: `shop-api-2:${p}`, host: '172.20.0.3', port: p, weight: 1, version: v, slot: 'canary' },
    ];
    expect(table).toEqual({
      httpPort: 8000,
      l4: [
        { listen: { host: '0.0.0.0', port: 8080 }, protocol: 'tcp', backends: apiBackends(80) },
        { listen: { host: '127.0.0.1', port: 5432 }, protocol: 'tcp', backends: [{ id: 'shop-db-1:5432', host: '172.20.0.9', port: 5432, weight: 1, version: observedReplica(db, 1).specHash.slice(0, 12) }] },
      ],
      l7: [{ name: 'shop/api', host: 'shop.example', pathPrefix: '/api', sticky: true, backends: apiBackends(80) }],
    });
    expect(problems).toEqual(['shop/api: 5353/udp is not routed (the router serves TCP only)']);
    expect(parseTable(table).ok).toBe(true);
  });

  it('names a port that collides with the HTTP entry (a malformed route never gets here: validation refuses it)', () => {
    const bad = desiredService('blog', 'web', { ports: [port(8000, 80)] });
    const { table, problems } = buildRoutingTable(desiredState('b'.repeat(40), [desiredStack('blog', [bad])]), { instance: 't', networks: [], volumes: [], containers: [] }, 8000);
    expect(table).toEqual({ l4: [], l7: [], httpPort: 8000 });
    expect(problems).toEqual([
      'blog/web: host port 0.0.0.0:8000 is already taken by another route',
    ]);
  });
});
