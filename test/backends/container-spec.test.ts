// The pure desired-service → container-create translation, checked field by
// field against what `docker compose up` would send for the same service.

import { describe, expect, it } from 'vitest';
import type { DeployContext } from '../../src/backends/backend.js';
import { bindSources, containerCreateOptions } from '../../src/backends/docker/container-spec.js';
import { LABEL, anonymousVolumeName } from '../../src/desired/labels.js';
import type { DesiredService } from '../../src/desired/model.js';
import { decodeSpecLabel } from '../../src/desired/spec-label.js';
import { PortSharedError } from '../../src/errors.js';
import type { ServiceSpec } from '../../src/manifests/model.js';
import { desiredService } from '../helpers/specs.js';

const REV = '3f9c2e1'.padEnd(40, '0');
const ctx: DeployContext = { instance: 'prod', revision: REV, checkoutDir: '/data/checkout', publishPorts: true };

function service(overrides: Partial<ServiceSpec> = {}): DesiredService {
  return desiredService('web', 'api', { image: 'example/api:1.4.2', ...overrides });
}

describe('containerCreateOptions', () => {
  it('names the replica compose-style and stamps ownership labels over user labels', () => {
    const api = service({ labels: { team: 'shop', [LABEL.instance]: 'spoofed' } });
    const opts = containerCreateOptions(api, 2, ctx);
    expect(opts.name).toBe('web-api-2');
    expect(opts.Image).toBe('example/api:1.4.2');
    const labels = opts.Labels ?? {};
    expect(labels).toMatchObject({
      team: 'shop',
      'com.docker.compose.project': 'web',
      'com.docker.compose.service': 'api',
      'com.docker.compose.container-number': '2',
      'com.docker.compose.config-hash': api.specHash,
      'com.docker.compose.oneoff': 'False',
      'io.capstan.instance': 'prod',
      'io.capstan.stack': 'web',
      'io.capstan.service': 'api',
      'io.capstan.spec-hash': api.specHash,
      'io.capstan.revision': REV,
      'io.capstan.slot': 'stable',
    });
    expect(decodeSpecLabel(labels)?.image).toBe('example/api:1.4.2');
  });

  it('takes another slot when asked', () => {
    expect(containerCreateOptions(service(), 1, ctx, { slot: 'canary' }).Labels?.[LABEL.slot]).toBe('canary');
  });

  it('passes command, entrypoint, sorted env, user, workdir and stop settings through', () => {
    const opts = containerCreateOptions(
      service({
        command: ['httpd', '-f'],
        entrypoint: ['/bin/sh', '-c'],
        environment: { B: '2', A: 'x=y' },
        user: '1000:1000',
        workingDir: '/srv',
        stopSignal: 'SIGQUIT',
        stopGracePeriodMs: 1500,
      }),
      1,
      ctx,
    );
    expect(opts.Cmd).toEqual(['httpd', '-f']);
    expect(opts.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(opts.Env).toEqual(['A=x=y', 'B=2']);
    expect(opts.User).toBe('1000:1000');
    expect(opts.WorkingDir).toBe('/srv');
    expect(opts.StopSignal).toBe('SIGQUIT');
    expect(opts.StopTimeout).toBe(2);
  });

  it('leaves unset fields to the image', () => {
    const opts = containerCreateOptions(service(), 1, ctx);
    for (const key of ['Cmd', 'Entrypoint', 'User', 'WorkingDir', 'StopSignal', 'StopTimeout', 'Healthcheck', 'ExposedPorts'] as const) {
      expect(opts[key], key).toBeUndefined();
    }
    expect(opts.Env).toEqual([]);
    expect(opts.HostConfig).toEqual({ RestartPolicy: { Name: 'no' }, NetworkMode: 'web_default' });
  });

  it('exposes ports and publishes those with a host port on a single replica', () => {
    const opts = containerCreateOptions(
      service({
        ports: [
          { hostIp: '', published: 8080, target: 80, protocol: 'tcp' },
          { hostIp: '127.0.0.1', published: 5353, target: 53, protocol: 'udp' },
          { hostIp: '', published: undefined, target: 9000, protocol: 'tcp' },
        ],
        expose: [8081],
      }),
      1,
      ctx,
    );
    expect(opts.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '9000/tcp': {}, '8081/tcp': {} });
    expect(opts.HostConfig?.PortBindings).toEqual({
      '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    });
  });

  it('refuses to publish one fixed host port from several replicas without the router', () => {
    expect(() => containerCreateOptions(service({ replicas: 3, ports: [{ hostIp: '', published: 8080, target: 80, protocol: 'tcp' }] }), 1, ctx)).toThrow(PortSharedError);
  });

  it('leaves TCP host ports to the router and still publishes UDP', () => {
    const ports = [{ hostIp: '', published: 8080, target: 80, protocol: 'tcp' as const }, { hostIp: '', published: 5353, target: 53, protocol: 'udp' as const }];
    const opts = containerCreateOptions(service({ replicas: 1, ports }), 1, { ...ctx, publishPorts: false });
    expect(opts.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(opts.HostConfig?.PortBindings).toEqual({ '53/udp': [{ HostIp: '', HostPort: '5353' }] });
    const scaled = containerCreateOptions(service({ replicas: 3, ports: ports.slice(0, 1) }), 2, { ...ctx, publishPorts: false });
    expect(scaled.HostConfig?.PortBindings).toBeUndefined();
  });

  it('mounts named volumes by engine name, binds by absolute path, and tmpfs', () => {
    const svc = service({
      volumes: [
        { type: 'volume', source: 'data', target: '/var/lib/data', readOnly: false, relative: false },
        { type: 'volume', source: '', target: '/cache', readOnly: false, relative: false },
        { type: 'bind', source: './site', target: '/www', readOnly: true, relative: true },
        { type: 'bind', source: '/srv/shared', target: '/shared', readOnly: false, relative: false },
        { type: 'tmpfs', source: '', target: '/tmp', readOnly: false, relative: false },
      ],
    });
    expect(containerCreateOptions(svc, 1, ctx).HostConfig?.Mounts).toEqual([
      { Type: 'volume', Source: 'web_data', Target: '/var/lib/data', ReadOnly: false },
      // Anonymous: the slot's own volume, found again when the slot is recreated.
      { Type: 'volume', Source: anonymousVolumeName('web', 'api', 1, '/cache'), Target: '/cache', ReadOnly: false },
      { Type: 'bind', Source: '/data/checkout/site', Target: '/www', ReadOnly: true },
      { Type: 'bind', Source: '/srv/shared', Target: '/shared', ReadOnly: false },
      { Type: 'tmpfs', Source: '', Target: '/tmp', ReadOnly: false },
    ]);
    expect(bindSources(svc, ctx)).toEqual(['/data/checkout/site', '/srv/shared']);
  });

  it('refuses a relative bind without a checkout directory', () => {
    const svc = service({ volumes: [{ type: 'bind', source: 'site', target: '/www', readOnly: true, relative: true }] });
    expect(() => containerCreateOptions(svc, 1, { ...ctx, checkoutDir: undefined })).toThrow(/relative/);
  });

  it('maps restart policies', () => {
    expect(containerCreateOptions(service({ restart: 'unless-stopped' }), 1, ctx).HostConfig?.RestartPolicy).toEqual({ Name: 'unless-stopped' });
    expect(containerCreateOptions(service({ restart: 'always' }), 1, ctx).HostConfig?.RestartPolicy).toEqual({ Name: 'always' });
    expect(containerCreateOptions(service({ restart: 'on-failure' }), 1, ctx).HostConfig?.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 0 });
  });

  it('converts healthcheck durations from ms to ns', () => {
    const opts = containerCreateOptions(
      service({ healthcheck: { test: ['CMD-SHELL', 'wget -qO- http://127.0.0.1/'], intervalMs: 2000, timeoutMs: 3000, retries: 3, startPeriodMs: 500, startIntervalMs: undefined } }),
      1,
      ctx,
    );
    expect(opts.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'wget -qO- http://127.0.0.1/'], Interval: 2e9, Timeout: 3e9, Retries: 3, StartPeriod: 5e8 });
    const partial = containerCreateOptions(service({ healthcheck: { test: ['NONE'], intervalMs: undefined, timeoutMs: undefined, retries: undefined, startPeriodMs: undefined, startIntervalMs: undefined } }), 1, ctx);
    expect(partial.Healthcheck).toEqual({ Test: ['NONE'] });
  });

  it('sets resource limits', () => {
    const opts = containerCreateOptions(service({ resources: { nanoCpus: 250_000_000, memoryBytes: 32 * 1024 * 1024, pids: 100 } }), 1, ctx);
    expect(opts.HostConfig).toMatchObject({ NanoCpus: 250_000_000, Memory: 33_554_432, PidsLimit: 100 });
  });

  it('joins every stack network with the service and container name as aliases', () => {
    const opts = containerCreateOptions(service({ networks: ['front', 'back'] }), 3, ctx);
    expect(opts.HostConfig?.NetworkMode).toBe('web_front');
    expect(opts.NetworkingConfig).toEqual({
      EndpointsConfig: {
        web_front: { Aliases: ['api', 'web-api-3'] },
        web_back: { Aliases: ['api', 'web-api-3'] },
      },
    });
  });

  it('is deterministic', () => {
    const svc = service({ environment: { Z: '1', A: '2' }, networks: ['default'] });
    expect(JSON.stringify(containerCreateOptions(svc, 1, ctx))).toBe(JSON.stringify(containerCreateOptions(svc, 1, ctx)));
  });

  it('maps the container settings to the engine fields docker compose sends', () => {
    const opts = containerCreateOptions(
      service({
        containerName: 'shop-api',
        hostname: 'api1',
        tty: true,
        stdinOpen: true,
        capAdd: ['NET_BIND_SERVICE'],
        capDrop: ['ALL'],
        sysctls: { 'net.core.somaxconn': '1024' },
        ulimits: { nofile: { soft: 1024, hard: 2048 } },
        tmpfs: { '/run': '', '/tmp': 'size=64m' },
        readOnly: true,
        shmSizeBytes: 1024,
        init: true,
        extraHosts: ['db:10.0.0.5'],
        dns: ['1.1.1.1'],
        logging: { driver: 'json-file', options: { 'max-size': '10m' } },
        runtime: 'runc',
        securityOpt: ['no-new-privileges:true'],
        devices: [{ source: '/dev/fuse', target: '/dev/fuse', permissions: 'rwm' }],
        privileged: true,
        pid: 'host',
        ipc: 'host',
        networkAliases: { default: ['backend'] },
      }),
      1,
      ctx,
    );
    expect(opts.name).toBe('shop-api');
    expect(opts).toMatchObject({ Hostname: 'api1', Tty: true, OpenStdin: true });
    expect(opts.NetworkingConfig?.EndpointsConfig?.['web_default']).toEqual({ Aliases: ['api', 'shop-api', 'backend'] });
    expect(opts.HostConfig).toMatchObject({
      CapAdd: ['NET_BIND_SERVICE'],
      CapDrop: ['ALL'],
      Sysctls: { 'net.core.somaxconn': '1024' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      Tmpfs: { '/run': '', '/tmp': 'size=64m' },
      ReadonlyRootfs: true,
      ShmSize: 1024,
      Init: true,
      ExtraHosts: ['db:10.0.0.5'],
      Dns: ['1.1.1.1'],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } },
      Runtime: 'runc',
      SecurityOpt: ['no-new-privileges:true'],
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
      Privileged: true,
      PidMode: 'host',
      IpcMode: 'host',
    });
  });

  it('uses network_mode when the service joins no stack network', () => {
    const opts = containerCreateOptions(service({ networks: [], networkMode: 'none' }), 1, ctx);
    expect(opts.HostConfig?.NetworkMode).toBe('none');
    expect(opts.NetworkingConfig).toBeUndefined();
  });

  it('sends none of the optional settings for a plain service', () => {
    const host = containerCreateOptions(service(), 1, ctx).HostConfig ?? {};
    expect(Object.keys(host).sort()).toEqual(['NetworkMode', 'RestartPolicy']);
  });
});

describe('fixed addresses on networks', () => {
  it('puts ipv4/ipv6 in the endpoint IPAM config and the MAC on the endpoint (and the container, for older engines)', () => {
    const svc = service({ networks: ['default'], networkAddresses: { default: { ipv4: '10.9.8.7', ipv6: undefined, mac: '02:42:0a:09:08:07' } } });
    const opts = containerCreateOptions(svc, 1, ctx);
    expect(opts.NetworkingConfig?.EndpointsConfig?.['web_default']).toMatchObject({ IPAMConfig: { IPv4Address: '10.9.8.7' }, MacAddress: '02:42:0a:09:08:07' });
    expect(opts.MacAddress).toBe('02:42:0a:09:08:07');
  });
});
