// The container settings of DESIGN §2 (cap_add … ipc, deploy.update_config),
// each key's short and long forms against the exact normalized output.
import { describe, expect, it } from 'vitest';
import { errorsOf, load, service, svc } from './helpers.js';

const one = (yaml: string): string[] => errorsOf(load({ 'stacks/web.yaml': yaml }));

describe('container settings', () => {
  it('normalizes the list and map forms of every key', () => {
    const s = service(
      svc(
        'container_name: web-main',
        'hostname: web1',
        'cap_add: [net_bind_service, CAP_CHOWN, CHOWN]',
        'cap_drop: [ALL]',
        'sysctls: ["net.ipv4.tcp_keepalive_time=600"]',
        'ulimits:',
        '  nproc: 65535',
        '  nofile: { soft: 20000, hard: 40000 }',
        'tmpfs: [/run, "/tmp:size=64m,mode=1777"]',
        'read_only: true',
        'shm_size: 256m',
        'init: true',
        'tty: "true"',
        'stdin_open: true',
        'extra_hosts: ["db.local:10.0.0.5", "v6=::1"]',
        'dns: 1.1.1.1',
        'logging: { driver: json-file, options: { max-size: 10m, max-file: 3 } }',
        'platform: linux/amd64',
        'runtime: runc',
        'security_opt: [no-new-privileges:true]',
        'ipc: private',
      ),
    );
    expect(s).toMatchObject({
      containerName: 'web-main',
      hostname: 'web1',
      capAdd: ['CHOWN', 'NET_BIND_SERVICE'],
      capDrop: ['ALL'],
      sysctls: { 'net.ipv4.tcp_keepalive_time': '600' },
      ulimits: { nproc: { soft: 65535, hard: 65535 }, nofile: { soft: 20000, hard: 40000 } },
      tmpfs: { '/run': '', '/tmp': 'size=64m,mode=1777' },
      readOnly: true,
      shmSizeBytes: 256 * 1024 * 1024,
      init: true,
      tty: true,
      stdinOpen: true,
      extraHosts: ['db.local:10.0.0.5', 'v6:::1'],
      dns: ['1.1.1.1'],
      logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
      platform: 'linux/amd64',
      runtime: 'runc',
      securityOpt: ['no-new-privileges:true'],
      ipc: 'private',
    });
  });

  it('reads map forms of sysctls and extra_hosts, and a single tmpfs string', () => {
    const s = service(svc('sysctls: { net.ipv4.tcp_syncookies: 1 }', 'extra_hosts: { gw: 192.168.1.1, multi: [10.0.0.1, 10.0.0.2] }', 'tmpfs: /cache', 'dns: [8.8.8.8, 9.9.9.9]'));
    expect(s.sysctls).toEqual({ 'net.ipv4.tcp_syncookies': '1' });
    expect(s.extraHosts).toEqual(['gw:192.168.1.1', 'multi:10.0.0.1', 'multi:10.0.0.2']);
    expect(s.tmpfs).toEqual({ '/cache': '' });
    expect(s.dns).toEqual(['8.8.8.8', '9.9.9.9']);
  });

  it('keeps network aliases per network', () => {
    const r = load({ 'stacks/web.yaml': 'services:\n  svc:\n    image: x\n    networks:\n      back: { aliases: [db, primary, db] }\n      default:\nnetworks:\n  back: {}\n' });
    expect(errorsOf(r)).toEqual([]);
    const s = r.stacks[0]?.services['svc'];
    expect(s?.networks).toEqual(['back', 'default']);
    expect(s?.networkAliases).toEqual({ back: ['db', 'primary'] });
  });

  it('takes network_mode instead of networks', () => {
    const r = load({ 'stacks/web.yaml': 'services:\n  svc:\n    image: x\n    network_mode: none\n' });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks[0]?.services['svc']).toMatchObject({ networkMode: 'none', networks: [] });
    expect(r.stacks[0]?.networks).toEqual({});
  });

  it('keeps labels of declared networks and volumes', () => {
    const r = load({ 'stacks/web.yaml': 'services:\n  svc: { image: x }\nnetworks:\n  n: { labels: [tier=back], internal: true }\nvolumes:\n  v: { labels: { backup: daily } }\n' });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks[0]?.networks['n']).toMatchObject({ labels: { tier: 'back' }, internal: true });
    expect(r.stacks[0]?.volumes['v']?.labels).toEqual({ backup: 'daily' });
  });

  it('reads -1 as an unlimited ulimit', () => {
    expect(service(svc('ulimits: { memlock: { soft: -1, hard: -1 }, core: { soft: 0, hard: -1 } }')).ulimits).toEqual({ memlock: { soft: -1, hard: -1 }, core: { soft: 0, hard: -1 } });
  });

  it('says what is wrong with malformed values', () => {
    expect(one(svc('ulimits: { nofile: { soft: 10, hard: 5 } }'))).toEqual(['stacks/web.yaml:4:24 services.svc.ulimits.nofile: soft limit 10 is above hard limit 5']);
    expect(one(svc('tmpfs: run'))).toEqual(['stacks/web.yaml:4:12 services.svc.tmpfs: the tmpfs path "run" must be absolute']);
    expect(one(svc('extra_hosts: [nocolon]'))).toEqual(['stacks/web.yaml:4:19 services.svc.extra_hosts[0]: invalid extra host "nocolon"; expected "host:ip"']);
    expect(one(svc('pid: private'))).toEqual(['stacks/web.yaml:4:10 services.svc.pid: pid must be host, got "private"']);
    expect(one(svc('shm_size: lots'))).toEqual(['stacks/web.yaml:4:15 services.svc.shm_size: invalid size "lots"; use e.g. "512m", "1g", "1024"']);
    expect(one(svc('container_name: "-x"'))).toEqual([
      'stacks/web.yaml:4:21 services.svc.container_name: a container name uses letters, digits, "_", "." or "-", at least two characters, starting with a letter or digit',
    ]);
  });
});

describe('deploy', () => {
  it('fills update_config and rollback_config with the DESIGN defaults', () => {
    const s = service(svc('deploy:', '  update_config: { parallelism: 2, delay: 10s, order: stop-first }', '  rollback_config: { failure_action: pause, monitor: 1m, max_failure_ratio: 0.2 }'));
    expect(s.update).toEqual({ parallelism: 2, delayMs: 10_000, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' });
    expect(s.rollback).toEqual({ parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 60_000, maxFailureRatio: 0.2, order: 'start-first' });
  });
  it('runs a global service as one replica on the docker backend', () => {
    expect(service(svc('deploy: { mode: global }'))).toMatchObject({ mode: 'global', replicas: 1 });
  });
  it('folds deploy.restart_policy into restart unless restart is set', () => {
    expect(service(svc('deploy: { restart_policy: { condition: on-failure, max_attempts: 3 } }')).restart).toBe('on-failure');
    expect(service(svc('deploy: { restart_policy: { condition: any } }')).restart).toBe('always');
    expect(service(svc('restart: unless-stopped', 'deploy: { restart_policy: { condition: none } }')).restart).toBe('unless-stopped');
  });
  it('rejects an out-of-range failure ratio and an unknown order', () => {
    expect(one(svc('deploy: { update_config: { max_failure_ratio: 2, order: first } }'))).toEqual([
      'stacks/web.yaml:4:51 services.svc.deploy.update_config.max_failure_ratio: max_failure_ratio must be a number between 0 and 1, got 2',
      'stacks/web.yaml:4:61 services.svc.deploy.update_config.order: order must be start-first or stop-first',
    ]);
  });
});

describe('healthcheck', () => {
  it('reads start_interval', () => {
    expect(service(svc('healthcheck: { test: [CMD, "true"], start_period: 30s, start_interval: 1s }')).healthcheck?.startIntervalMs).toBe(1000);
  });
});
