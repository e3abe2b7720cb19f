// Each supported service key, short and long forms, against the exact normalized output.
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { errorsOf, load, service, svc } from './helpers.js';

describe('a minimal service', () => {
  it('gets every default', () => {
    expect(service(svc())).toEqual({
      image: 'nginx:1.25',
      command: undefined,
      entrypoint: undefined,
      environment: {},
      ports: [],
      expose: [],
      volumes: [],
      networks: ['default'],
      labels: {},
      healthcheck: undefined,
      restart: 'no',
      user: undefined,
      workingDir: undefined,
      stopSignal: undefined,
      stopGracePeriodMs: undefined,
      dependsOn: {},
      replicas: 1,
      resources: { nanoCpus: undefined, memoryBytes: undefined, pids: undefined },
      deployLabels: {},
      capstan: { strategy: 'rolling', progressDeadlineMs: 60_000, routes: [] },
      containerName: undefined,
      hostname: undefined,
      capAdd: [],
      capDrop: [],
      sysctls: {},
      ulimits: {},
      tmpfs: {},
      readOnly: false,
      shmSizeBytes: undefined,
      init: undefined,
      tty: false,
      stdinOpen: false,
      extraHosts: [],
      dns: [],
      logging: undefined,
      platform: undefined,
      runtime: undefined,
      securityOpt: [],
      devices: [],
      privileged: false,
      networkMode: undefined,
      pid: undefined,
      ipc: undefined,
      networkAliases: {},
      mode: 'replicated',
      update: { parallelism: 1, delayMs: 0, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0, order: 'start-first' },
      rollback: { parallelism: 1, delayMs: 0, failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0, order: 'start-first' },
    });
  });

  it('is deeply frozen', () => {
    const s = service(svc('environment: { A: b }'));
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.environment)).toBe(true);
    expect(Object.isFrozen(s.capstan)).toBe(true);
  });
});

describe('command and entrypoint', () => {
  it('splits strings like a shell, without sh -c', () => {
    const s = service(svc(`command: echo "hello world" 'a b'`, 'entrypoint: /bin/tini --'));
    expect(s.command).toEqual(['echo', 'hello world', 'a b']);
    expect(s.entrypoint).toEqual(['/bin/tini', '--']);
  });
  it('keeps lists as-is (numbers as strings)', () => {
    expect(service(svc('command: ["sleep", 10]')).command).toEqual(['sleep', '10']);
    expect(service(svc('entrypoint: []')).entrypoint).toEqual([]);
  });
});

describe('environment and env_file', () => {
  it('reads the list form; a bare name comes from the environment or is left out', () => {
    const s = service(svc('environment:', '  - A=1', '  - B=x=y', '  - FROM_OP', '  - NOT_SET'), {}, { FROM_OP: 'op' });
    expect(s.environment).toEqual({ A: '1', B: 'x=y', FROM_OP: 'op' });
  });
  it('reads the map form; null comes from the environment; scalars become strings', () => {
    const s = service(svc('environment:', '  A: 1', '  B: true', '  C:', '  D: ""'), { 'stacks/.env': 'C=dot\n' });
    expect(s.environment).toEqual({ A: '1', B: 'true', C: 'dot', D: '' });
  });
  it('merges env_file under environment, later files winning, paths relative to the stack file', () => {
    const r = load({
      'stacks/shop/compose.yaml': ['services:', '  svc:', '    image: x', '    env_file: [common.env, { path: ./local.env, required: false }, ../shared.env]', '    environment: { A: explicit }'].join('\n'),
      'stacks/shop/common.env': 'A=common\nB=common\nC=common\n',
      'stacks/shared.env': 'C=shared\n',
    });
    expect(r.errors).toEqual([]);
    expect(r.stacks[0]?.services['svc']?.environment).toEqual({ A: 'explicit', B: 'common', C: 'shared' });
  });
  it('accepts a single env_file string', () => {
    expect(service(svc('env_file: app.env'), { 'stacks/app.env': 'K=v\n' }).environment).toEqual({ K: 'v' });
  });
});

describe('ports and expose', () => {
  it('reads short and long syntax and expands ranges', () => {
    const s = service(
      svc('ports:', '  - "8080:80"', '  - 127.0.0.1:9000-9001:90-91/udp', '  - 443', '  - target: 53', '    published: "5353"', '    host_ip: 0.0.0.0', '    protocol: udp', '    mode: host'),
    );
    expect(s.ports).toEqual([
      { hostIp: '', published: 8080, target: 80, protocol: 'tcp' },
      { hostIp: '127.0.0.1', published: 9000, target: 90, protocol: 'udp' },
      { hostIp: '127.0.0.1', published: 9001, target: 91, protocol: 'udp' },
      { hostIp: '', published: undefined, target: 443, protocol: 'tcp' },
      { hostIp: '0.0.0.0', published: 5353, target: 53, protocol: 'udp', mode: 'host' },
    ]);
  });
  it('reads expose', () => {
    expect(service(svc('expose: ["3000", 4000, "5000-5001/tcp"]')).expose).toEqual([3000, 4000, 5000, 5001]);
  });
});

describe('volumes', () => {
  it('reads short syntax and resolves relative binds against the stack file: tracked sources read-only with their Git id, others persistent', () => {
    const r = load({
      'stacks/shop/compose.yaml': ['services:', '  svc:', '    image: x', '    volumes: ["data:/var/lib/data", "./html:/www:ro", "../shared/conf:/etc/app", "./nginx.conf:/etc/nginx.conf", "./db/.gitkeep:/k", "/etc/./localtime:/etc/localtime:ro"]', 'volumes:', '  data:'].join('\n'),
      'stacks/shop/html/index.html': '<h1>hi</h1>\n',
      'stacks/shop/nginx.conf': 'events {}\n',
      'stacks/shop/db/.gitkeep': '',
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings.map((w) => w.message)).toEqual([
      'bind source "./nginx.conf" holds files Git tracks: it is mounted read-only from the deployed revision (a writable data directory holds no tracked files but .gitkeep or .gitignore)',
      'bind source "./db/.gitkeep" holds files Git tracks: it is mounted read-only from the deployed revision (a writable data directory holds no tracked files but .gitkeep or .gitignore)',
    ]);
    expect(r.stacks[0]?.services['svc']?.volumes).toEqual([
      { type: 'volume', source: 'data', target: '/var/lib/data', readOnly: false, relative: false },
      { type: 'bind', source: 'stacks/shop/html', target: '/www', readOnly: true, relative: true, content: expect.stringMatching(/^[0-9a-f]{40}$/) as string },
      { type: 'bind', source: 'stacks/shared/conf', target: '/etc/app', readOnly: false, relative: true, persistent: true },
      { type: 'bind', source: 'stacks/shop/nginx.conf', target: '/etc/nginx.conf', readOnly: true, relative: true, content: 'd0ee8bf98f5ecd2eeb285481bdd3275121f9d963' },
      { type: 'bind', source: 'stacks/shop/db/.gitkeep', target: '/k', readOnly: true, relative: true, content: 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391' },
      { type: 'bind', source: '/etc/localtime', target: '/etc/localtime', readOnly: true, relative: false },
    ]);
  });
  it('on a swarm, takes tracked files (they become configs) and refuses data and tracked directories, each at its line with the fix', () => {
    const files = {
      'stacks/shop/compose.yaml': ['services:', '  svc:', '    image: x', '    volumes:', '      - ./nginx.conf:/etc/nginx.conf', '      - ./data:/var/lib/app', '      - ./html:/www'].join('\n'),
      'stacks/shop/nginx.conf': 'events {}\n',
      'stacks/shop/html/index.html': '<h1>hi</h1>\n',
    };
    const r = loadStacks(new Map(Object.entries(files)), { root: 'stacks', env: {}, backend: 'swarm' });
    expect(errorsOf(r)).toEqual([
      'stacks/shop/compose.yaml:6:9 services.svc.volumes[1]: bind source "./data" is a data directory (Git tracks no file in it), which lives in the operator\'s data dir: Swarm\'s nodes cannot see it (use a named volume instead (e.g. `- data:/var/lib/app` with `volumes: { data: {} }` at the top level); Swarm makes it on each node a task runs on)',
      'stacks/shop/compose.yaml:7:9 services.svc.volumes[2]: bind source "./html" is a directory Git tracks; on Swarm a tracked bind becomes a Swarm config, and a config is one file (bind each file of it on its own (each becomes a config), or list them under `configs:`)',
    ]);
    expect(load(files).errors).toEqual([]);
  });
  it('reads long syntax', () => {
    const s = service(
      [
        svc('volumes:', '  - { type: volume, source: data, target: /d, read_only: true, volume: { nocopy: true } }', '  - { type: bind, source: site, target: /www }', '  - { type: tmpfs, target: /tmp, tmpfs: { size: 64m } }').trimEnd(),
        'volumes: { data: {} }',
      ].join('\n'),
    );
    expect(s.volumes).toEqual([
      { type: 'volume', source: 'data', target: '/d', readOnly: true, relative: false },
      { type: 'bind', source: 'stacks/site', target: '/www', readOnly: false, relative: true, persistent: true },
      { type: 'tmpfs', source: '', target: '/tmp', readOnly: false, relative: false },
    ]);
  });
  it('gives the stack its volumes with engine names', () => {
    const r = load({ 'stacks/web.yaml': `${svc('volumes: [a:/a, b:/b, c:/c]')}volumes:\n  a:\n  b: { name: shared-b, driver: local }\n  c: { external: true }\n` }, {}, 'stacks', 'policy: { stacks: { web: { allow: ["external_volume:c"] } } }\n');
    expect(r.stacks[0]?.volumes).toEqual({
      a: { name: 'a', engineName: 'web_a', external: false, driver: undefined, labels: {} },
      b: { name: 'b', engineName: 'shared-b', external: false, driver: 'local', labels: {} },
      c: { name: 'c', engineName: 'c', external: true, driver: undefined, labels: {} },
    });
  });
});

describe('networks', () => {
  it('joins default when none is listed, and creates it', () => {
    const r = load({ 'stacks/web.yaml': svc() });
    expect(r.stacks[0]?.services['svc']?.networks).toEqual(['default']);
    expect(r.stacks[0]?.networks).toEqual({ default: { name: 'default', engineName: 'web_default', external: false, driver: undefined, labels: {} } });
  });
  it('reads list and map forms of declared networks', () => {
    const top = 'networks:\n  front:\n  back: { driver: bridge }\n  ext: { external: true, name: proxy }\n';
    const list = load({ 'stacks/web.yaml': svc('networks: [front, back]') + top });
    expect(list.stacks[0]?.services['svc']?.networks).toEqual(['back', 'front']);
    const map = load({ 'stacks/web.yaml': svc('networks:', '  ext:', '  default: {}') + top });
    expect(map.errors).toEqual([]);
    expect(map.stacks[0]?.services['svc']?.networks).toEqual(['default', 'ext']);
    expect(map.stacks[0]?.networks).toEqual({
      back: { name: 'back', engineName: 'web_back', external: false, driver: 'bridge', labels: {} },
      default: { name: 'default', engineName: 'web_default', external: false, driver: undefined, labels: {} },
      ext: { name: 'ext', engineName: 'proxy', external: true, driver: undefined, labels: {} },
      front: { name: 'front', engineName: 'web_front', external: false, driver: undefined, labels: {} },
    });
  });
});

describe('labels, healthcheck, restart, user and friends', () => {
  it('reads labels as a list or a map', () => {
    expect(service(svc('labels: ["a=1", "b", "c=x=y"]')).labels).toEqual({ a: '1', b: '', c: 'x=y' });
    expect(service(svc('labels: { com.example.tier: web, n: 3 }')).labels).toEqual({ 'com.example.tier': 'web', n: '3' });
  });
  it('reads healthcheck forms', () => {
    expect(service(svc('healthcheck:', '  test: curl -f http://localhost', '  interval: 1m30s', '  timeout: 2s', '  retries: 3', '  start_period: 500ms')).healthcheck).toEqual({
      test: ['CMD-SHELL', 'curl -f http://localhost'],
      intervalMs: 90_000,
      timeoutMs: 2000,
      retries: 3,
      startPeriodMs: 500,
    });
    expect(service(svc('healthcheck: { test: [CMD, wget, -qO-, "http://x"] }')).healthcheck?.test).toEqual(['CMD', 'wget', '-qO-', 'http://x']);
    expect(service(svc('healthcheck: { disable: true, interval: 5s }')).healthcheck).toEqual({ test: ['NONE'], intervalMs: undefined, timeoutMs: undefined, retries: undefined, startPeriodMs: undefined });
  });
  it('reads restart policies', () => {
    expect(service(svc('restart: always')).restart).toBe('always');
    expect(service(svc('restart: "no"')).restart).toBe('no');
    expect(service(svc('restart: no')).restart).toBe('no');
    expect(service(svc('restart: on-failure:3')).restart).toBe('on-failure');
    expect(service(svc('restart: unless-stopped')).restart).toBe('unless-stopped');
  });
  it('reads user, working_dir, stop_signal, stop_grace_period', () => {
    const s = service(svc('user: 1000', 'working_dir: /app', 'stop_signal: SIGQUIT', 'stop_grace_period: 1m'));
    expect([s.user, s.workingDir, s.stopSignal, s.stopGracePeriodMs]).toEqual(['1000', '/app', 'SIGQUIT', 60_000]);
  });
});

describe('depends_on, deploy and x-capstan', () => {
  it('reads depends_on as list or map with conditions', () => {
    const r = load({
      'stacks/web.yaml': ['services:', '  db: { image: pg }', '  cache: { image: redis }', '  api:', '    image: api', '    depends_on:', '      db: { condition: service_healthy, restart: true }', '      cache:', '  worker: { image: w, depends_on: [db, api] }'].join('\n'),
    });
    expect(r.errors).toEqual([]);
    const s = r.stacks[0]?.services;
    expect(s?.['api']?.dependsOn).toEqual({ db: 'service_healthy', cache: 'service_started' });
    expect(s?.['worker']?.dependsOn).toEqual({ db: 'service_started', api: 'service_started' });
  });
  it('reads deploy replicas, limits, labels; accepts reservations and mode replicated', () => {
    const s = service(
      svc('deploy:', '  mode: replicated', '  replicas: 3', '  labels: [tier=web]', '  resources:', '    limits: { cpus: "0.5", memory: 512m, pids: 100 }', '    reservations: { cpus: "0.25", memory: 128m }'),
    );
    expect([s.replicas, s.resources, s.deployLabels]).toEqual([3, { nanoCpus: 500_000_000, memoryBytes: 536_870_912, pids: 100 }, { tier: 'web' }]);
  });
  it('reads x-capstan strategy, progress_deadline and routes, with their defaults', () => {
    const s = service(svc('x-capstan:', '  strategy: rolling', '  progress_deadline: 2m', '  route: { host: api.example.test, port: 8080 }'));
    expect(s.capstan).toEqual({ strategy: 'rolling', progressDeadlineMs: 120_000, probe: undefined, routes: [{ host: 'api.example.test', pathPrefix: '/', port: 8080, sticky: false, tls: undefined, redirectHttp: false }] });
    const listed = service(svc('expose: [9000]', 'x-capstan:', '  route: [{ path: /api, sticky: true }, { host: b.test }]'));
    expect(listed.capstan.routes).toEqual([{ host: undefined, pathPrefix: '/api', port: 9000, sticky: true, tls: undefined, redirectHttp: false }, { host: 'b.test', pathPrefix: '/', port: 9000, sticky: false, tls: undefined, redirectHttp: false }]);
  });
  it('reads a blue-green strategy with its defaults', () => {
    const s = service(svc('x-capstan:', '  strategy: blue-green'));
    expect([s.capstan.strategy, s.capstan.blueGreen]).toEqual(['blue-green', { scaleDownDelayMs: 30_000, monitorMs: 10_000, preSwitch: undefined }]);
  });
  it('reads x-capstan.probe with defaults', () => {
    const s = service(svc('x-capstan:', '  probe: { http: { path: /healthz, port: "8080", host: api.test }, interval: 1s, failure_threshold: 2 }'));
    expect(s.capstan.probe).toEqual({ check: { kind: 'http', path: '/healthz', port: 8080, host: 'api.test' }, intervalMs: 1000, timeoutMs: 1000, initialDelayMs: 0, successThreshold: 1, failureThreshold: 2 });
    expect(service(svc('x-capstan:', '  probe: { tcp: { port: 5432 }, initial_delay: 3s }')).capstan.probe?.check).toEqual({ kind: 'tcp', port: 5432 });
    expect(service(svc('x-capstan:', '  probe: { exec: ["test", "-f", "/ready"] }')).capstan.probe?.check).toEqual({ kind: 'exec', command: ['test', '-f', '/ready'] });
  });
  it('allows x-* extension keys at the top level and in services', () => {
    const r = load({ 'stacks/web.yaml': `x-owner: team-a\n${svc('x-note: hi')}` });
    expect(r.errors).toEqual([]);
  });
});

describe('anchors, aliases and merge keys', () => {
  it('expands them; explicit keys win over merged ones', () => {
    const r = load({
      'stacks/web.yaml': [
        'x-defaults: &defaults',
        '  restart: always',
        '  environment: &env { A: "1", B: "2" }',
        '  image: base:1',
        'x-more: &more',
        '  user: nobody',
        '  restart: on-failure',
        'services:',
        '  a:',
        '    <<: [*defaults, *more]',
        '    image: a:1',
        '  b:',
        '    <<: *defaults',
        '    environment: *env',
        '    labels: { x: "y" }',
      ].join('\n'),
    });
    expect(r.errors).toEqual([]);
    const a = r.stacks[0]?.services['a'];
    const b = r.stacks[0]?.services['b'];
    expect([a?.image, a?.restart, a?.user, a?.environment]).toEqual(['a:1', 'always', 'nobody', { A: '1', B: '2' }]);
    expect([b?.image, b?.restart, b?.environment, b?.labels]).toEqual(['base:1', 'always', { A: '1', B: '2' }, { x: 'y' }]);
  });
});
