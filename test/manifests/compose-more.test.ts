import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { errorsOf, load } from './helpers.js';

const home = (files: Record<string, string>) => loadStacks(new Map(Object.entries(files)), { root: 'stacks', env: {}, home: '/home/ops' });

describe('more of the Compose files people have (issue 9, item 6)', () => {
  it('takes anonymous volumes, short and long', () => {
    const r = load({ 'stacks/web.yaml': 'services:\n  app:\n    image: node:20\n    volumes: ["/app/node_modules", { type: volume, target: /cache }]\n' });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks[0]?.services['app']?.volumes).toEqual([
      { type: 'volume', source: '', target: '/app/node_modules', readOnly: false, relative: false },
      { type: 'volume', source: '', target: '/cache', readOnly: false, relative: false },
    ]);
  });

  it('expands ~ to the operator user\'s home, and the policy judges the expanded path', () => {
    const r = home({ 'stacks/web.yaml': 'services:\n  app:\n    image: x\n    volumes: ["~/data:/data", { type: bind, source: "~", target: /h, read_only: true }]\n' });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks[0]?.services['app']?.volumes.map((m) => m.source)).toEqual(['/home/ops/data', '/home/ops']);
    const root = loadStacks(new Map([['stacks/web.yaml', 'services:\n  app:\n    image: x\n    volumes: ["~:/h"]\n']]), { root: 'stacks', env: {}, home: '/root' });
    expect(errorsOf(root)[0]).toContain('breaks policy rule host_path:/root');
  });

  it('takes fixed addresses on a network with its own ipam, and says why otherwise', () => {
    const ok = load({ 'stacks/web.yaml': `services:
  dns:
    image: x
    networks:
      lan: { ipv4_address: 10.77.0.53, mac_address: "02:42:0a:4d:00:35" }
networks:
  lan:
    ipam: { config: [{ subnet: 10.77.0.0/24, gateway: 10.77.0.1 }] }
` });
    expect(errorsOf(ok)).toEqual([]);
    const stack = ok.stacks[0];
    expect(stack?.services['dns']?.networkAddresses).toEqual({ lan: { ipv4: '10.77.0.53', ipv6: undefined, mac: '02:42:0a:4d:00:35' } });
    expect(stack?.networks['lan']?.ipam).toEqual({ driver: undefined, config: [{ subnet: '10.77.0.0/24', ipRange: undefined, gateway: '10.77.0.1', auxAddresses: {} }], options: {} });

    const bad = load({ 'stacks/web.yaml': 'services:\n  dns:\n    image: x\n    deploy: { replicas: 2 }\n    networks:\n      lan: { ipv4_address: 10.77.0.53 }\nnetworks:\n  lan: {}\n' });
    expect(errorsOf(bad)).toEqual([
      'stacks/web.yaml:6:7 services.dns.networks.lan: fixed addresses on network "lan" cannot be shared by 2 replicas (set `deploy.replicas: 1`, or drop ipv4_address / ipv6_address / mac_address)',
      'stacks/web.yaml:6:7 services.dns.networks.lan: a fixed ip address on network "lan" needs that network\'s own subnet (declare it: networks: { lan: { ipam: { config: [{ subnet: 172.28.0.0/16 }] } } } (Docker refuses fixed addresses on networks it addressed itself))',
    ]);
    expect(errorsOf(load({ 'stacks/web.yaml': 'services:\n  dns:\n    image: x\n    networks:\n      lan: { ipv4_address: 10.77.0.500 }\nnetworks:\n  lan: {}\n' }))[0]).toContain('expected an IPv4 address');
  });
});
