// The router container's create options (pure): host network, the router
// state dir mounted, the operator's uid, restart unless-stopped, and a spec
// hash that changes with the image id or a setting, never by itself.

import { describe, expect, it } from 'vitest';
import { routerCreateOptions, type RouterContainerSpec } from '../../src/backends/docker/router-container.js';

const spec: RouterContainerSpec = { instance: 'prod', image: 'capstan:0.1.0', hostDir: '/srv/capstan/router', httpPort: 8000, admin: undefined, token: undefined, user: '0:0', args: [] };

describe('routerCreateOptions', () => {
  it('runs `capstan router` on the host network over the mounted state dir', () => {
    const o = routerCreateOptions(spec, 'sha256:a');
    expect(o).toMatchObject({
      name: 'capstan-router-prod',
      Image: 'capstan:0.1.0',
      Cmd: ['router', '--data-dir', '/var/lib/capstan', '--http-port', '8000', '--grace', '10000'],
      User: '0:0',
      Env: [],
      Labels: { 'io.capstan.instance': 'prod', 'io.capstan.role': 'router', 'io.capstan.spec-hash': expect.stringMatching(/^[0-9a-f]{64}$/) },
      HostConfig: { NetworkMode: 'host', Binds: ['/srv/capstan/router:/var/lib/capstan/router'], RestartPolicy: { Name: 'unless-stopped' } },
    });
    const tcp = routerCreateOptions({ ...spec, admin: { kind: 'tcp', host: '127.0.0.1', port: 9421 }, token: 't' }, 'sha256:a');
    expect(tcp.Cmd?.slice(-2)).toEqual(['--admin', '127.0.0.1:9421']);
    expect(tcp.Env).toEqual(['CAPSTAN_ROUTER_TOKEN=t']);
    const limited = routerCreateOptions({ ...spec, args: ['--head-timeout', '5000ms'] }, 'sha256:a');
    expect(limited.Cmd?.slice(-2)).toEqual(['--head-timeout', '5000ms']);
  });

  it('hashes the image id and the settings', () => {
    const hash = (s: RouterContainerSpec, image: string): string | undefined => routerCreateOptions(s, image).Labels?.['io.capstan.spec-hash'];
    expect(hash(spec, 'sha256:a')).toBe(hash({ ...spec }, 'sha256:a'));
    expect(hash(spec, 'sha256:b')).not.toBe(hash(spec, 'sha256:a'));
    expect(hash({ ...spec, httpPort: 8001 }, 'sha256:a')).not.toBe(hash(spec, 'sha256:a'));
    expect(hash({ ...spec, user: '1000:1000' }, 'sha256:a')).not.toBe(hash(spec, 'sha256:a'));
    expect(hash({ ...spec, args: ['--max-connections', '5'] }, 'sha256:a')).not.toBe(hash(spec, 'sha256:a'));
  });
});
