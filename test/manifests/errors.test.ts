// Every error kind, with the exact file:line:col, key path, message and hint a user sees.
import { describe, expect, it } from 'vitest';
import { errorsOf, load } from './helpers.js';

const one = (yaml: string, extra: Record<string, string> = {}): string[] => errorsOf(load({ 'stacks/web.yaml': yaml, ...extra }));

describe('keys', () => {
  it('flags a typo with a did-you-mean at the key', () => {
    expect(one('services:\n  api:\n    image: x\n    imagee: y\n')).toEqual(['stacks/web.yaml:4:5 services.api.imagee: unknown key (did you mean "image"?)']);
  });
  it('flags a key with nothing close, and typos at other levels', () => {
    expect(one('servics:\n  api:\n    image: x\nbanana: 1\n')).toEqual([
      'stacks/web.yaml:1:1 servics: unknown key (did you mean "services"?)',
      'stacks/web.yaml:4:1 banana: unknown key',
    ]);
    expect(one('services:\n  api:\n    image: x\n    deploy: { replica: 2 }\n    healthcheck: { intervall: 2s }\n')).toEqual([
      'stacks/web.yaml:4:15 services.api.deploy.replica: unknown key (did you mean "replicas"?)',
      'stacks/web.yaml:5:20 services.api.healthcheck.intervall: unknown key (did you mean "interval"?)',
    ]);
  });
  it('says which Compose keys are not supported yet, at every level', () => {
    expect(
      one(
        [
          'services:',
          '  api:',
          '    image: x',
          '    develop: { watch: [] }',
          '    gpus: all',
          '    links: [db]',
          '    networks:',
          '      front: { link_local_ips: [169.254.8.8] }',
          'networks:',
          '  front: { driver_opts: { a: b } }',
          'models:',
          '  m: { model: ai/smollm2 }',
        ].join('\n'),
      ),
    ).toEqual([
      'stacks/web.yaml:4:5 services.api.develop: `develop` is not supported yet (it is planned; remove it for now)',
      'stacks/web.yaml:5:5 services.api.gpus: `gpus` is not supported yet (it is planned; remove it for now)',
      'stacks/web.yaml:6:5 services.api.links: `links` is not supported yet (services reach each other by name on the stack network; remove it)',
      'stacks/web.yaml:8:16 services.api.networks.front.link_local_ips: `link_local_ips` is not supported yet (it is planned; remove it for now)',
      'stacks/web.yaml:10:12 networks.front.driver_opts: `driver_opts` is not supported yet (it is planned; remove it for now)',
      'stacks/web.yaml:11:1 models: `models` is not supported yet (it is planned; remove it for now)',
    ]);
  });
  it('refuses replicas together with deploy.mode global, and container_name with several replicas', () => {
    expect(one('services:\n  api:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n')).toEqual([
      'stacks/web.yaml:6:7 services.api.deploy.replicas: `deploy.replicas` cannot be used with `deploy.mode: global` (remove `replicas`: a global service runs one replica per node (on the docker backend: one))',
    ]);
    expect(one('services:\n  api:\n    image: x\n    container_name: api\n    deploy: { replicas: 2 }\n')).toEqual([
      'stacks/web.yaml:4:5 services.api.container_name: `container_name` "api" cannot be shared by 2 replicas (remove `container_name` or set `deploy.replicas: 1`)',
    ]);
    expect(one('services:\n  api:\n    image: x\n    network_mode: host\n    networks: [default]\n', )).toContain(
      'stacks/web.yaml:4:5 services.api.network_mode: `network_mode` and `networks` cannot be used together (remove one of them)',
    );
    expect(one('services:\n  api:\n    image: x\n    network_mode: "service:db"\n')).toEqual([
      'stacks/web.yaml:4:19 services.api.network_mode: network_mode "service:db" (sharing another container\'s network) is not supported yet',
    ]);
  });
  it('warns that version is obsolete', () => {
    const r = load({ 'stacks/web.yaml': 'version: "3.8"\nservices:\n  api: { image: x }\n' });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([{ file: 'stacks/web.yaml', line: 1, col: 1, path: 'version', message: '`version` is obsolete and ignored' }]);
  });
});

describe('values', () => {
  it('points a missing image at the service key', () => {
    expect(one('services:\n  api:\n    restart: always\n')).toEqual(['stacks/web.yaml:2:3 services.api: service "api" has neither `image` nor `build` (add `image: <reference>` or `build: <context directory>`)']);
  });
  it('names wrong types and bad values at the value', () => {
    expect(
      one(
        [
          'services:',
          '  api:',
          '    image: [x]',
          '    ports: ["80:80:80:80", { target: web }]',
          '    restart: sometimes',
          '    stop_grace_period: 10',
          '    healthcheck: { test: [curl, x] }',
          '    deploy: { replicas: -1 }',
          '    environment: 5',
          '    x-capstan: { strategy: yolo }',
        ].join('\n'),
      ),
    ).toEqual([
      'stacks/web.yaml:3:12 services.api.image: expected a string, got a list',
      'stacks/web.yaml:4:13 services.api.ports[0]: invalid port "80:80:80:80"; expected [[ip:]published:]target[/protocol]',
      'stacks/web.yaml:4:38 services.api.ports[1].target: invalid container port "web"',
      'stacks/web.yaml:5:14 services.api.restart: restart must be one of "no", "always", "on-failure[:N]", "unless-stopped", got "sometimes"',
      'stacks/web.yaml:6:24 services.api.stop_grace_period: invalid duration 10; use e.g. "1m30s", "2s", "500ms"',
      'stacks/web.yaml:7:26 services.api.healthcheck.test: a test list must start with "CMD", "CMD-SHELL" or "NONE", got "curl"',
      'stacks/web.yaml:8:25 services.api.deploy.replicas: expected a whole number ≥ 0, got -1',
      'stacks/web.yaml:9:18 services.api.environment: expected a list of "KEY=value" or a mapping, got number 5',
      'stacks/web.yaml:10:28 services.api.x-capstan.strategy: strategy must be rolling, blue-green or canary',
    ]);
  });
  it('rejects an invalid service name', () => {
    expect(one('services:\n  "my api":\n    image: x\n')).toEqual(['stacks/web.yaml:2:3 services.my api: invalid service name "my api" (use letters, digits, "_", "." or "-", starting with a letter or digit)']);
  });
});

describe('odd shapes', () => {
  it('explains empty services, top-level lists, missing long-syntax fields and unresolvable aliases', () => {
    expect(one('services:\n  api:\n')).toEqual(['stacks/web.yaml:2:7 services.api: expected a mapping, got null']);
    expect(one('- a\n- b\n')).toEqual(['stacks/web.yaml:1:1 expected a mapping with `services:` at the top level']);
    expect(one('services:\n  api:\n    image: x\n    ports: [{ published: 80 }]\n    volumes: [{ source: a, target: /z }]\n')).toEqual([
      'stacks/web.yaml:4:13 services.api.ports[0].target: missing required key `target`',
      'stacks/web.yaml:5:15 services.api.volumes[0].type: missing required key `type`',
    ]);
    expect(one('services:\n  api:\n    image: *nope\n')).toEqual(['stacks/web.yaml:3:12 services.api.image: alias *nope cannot be resolved']);
    expect(one('services:\n  api: { image: x }\n---\nmore: 1\n')).toEqual(['stacks/web.yaml:3:1 a stack file holds one YAML document; split the `---` documents into separate files']);
  });
  it('never lets a __proto__ service slip through', () => {
    expect(one('services:\n  __proto__:\n    image: x\n')).toEqual([
      'stacks/web.yaml:2:3 services.__proto__: invalid service name "__proto__" (use letters, digits, "_", "." or "-", starting with a letter or digit)',
    ]);
  });
  it('treats a self-dependency as a cycle', () => {
    expect(one('services:\n  api:\n    image: x\n    depends_on: [api]\n')).toEqual(['stacks/web.yaml:4:5 services.api.depends_on: dependency cycle: api → api (remove one of the depends_on entries)']);
  });
});

describe('whole-stack rules', () => {
  it('requires declared volumes and networks', () => {
    expect(one('services:\n  api:\n    image: x\n    volumes: [data:/d]\n    networks: [front]\n')).toEqual([
      'stacks/web.yaml:4:15 services.api.volumes[0]: volume "data" is not declared in the top-level `volumes:` (add `volumes: { data: {} }` at the top level of the file)',
      'stacks/web.yaml:5:16 services.api.networks[0]: network "front" is not declared in the top-level `networks:` (add `networks: { front: {} }` at the top level of the file)',
    ]);
  });
  it('requires depends_on targets to exist and to form no cycle', () => {
    expect(
      one(['services:', '  a:', '    image: x', '    depends_on: [b, ghost]', '  b:', '    image: x', '    depends_on:', '      a: { condition: service_healthy }', '      phantom:'].join('\n')),
    ).toEqual([
      'stacks/web.yaml:4:5 services.a.depends_on: dependency cycle: a → b → a (remove one of the depends_on entries)',
      'stacks/web.yaml:4:21 services.a.depends_on[1]: depends on unknown service "ghost" (services in this stack: a, b)',
      'stacks/web.yaml:9:7 services.b.depends_on.phantom: depends on unknown service "phantom" (services in this stack: a, b)',
    ]);
  });
  it('accepts a fixed host port with more than one replica (the router balances it)', () => {
    expect(one('services:\n  api:\n    image: x\n    deploy: { replicas: 3 }\n    ports:\n      - "80"\n      - "8080:80"\n')).toEqual([]);
  });
  it('keeps relative binds and env files inside the repository', () => {
    expect(one('services:\n  api:\n    image: x\n    volumes: ["../../etc:/e"]\n    env_file: [../../secret.env, missing.env]\n')).toEqual([
      'stacks/web.yaml:4:15 services.api.volumes[0]: bind source "../../etc" points outside the repository (keep relative bind sources inside the repository, or use an absolute host path (allowed by policy))',
      'stacks/web.yaml:5:16 services.api.env_file[0]: env_file "../../secret.env" points outside the repository (keep env files inside the repository)',
      'stacks/web.yaml:5:34 services.api.env_file[1]: env_file "missing.env" not found (looked for stacks/missing.env) (add the file to the repository, or mark it `required: false`)',
    ]);
  });
});

describe('YAML and collection of errors', () => {
  it('reports syntax errors and duplicate keys with positions', () => {
    expect(one('services:\n  api:\n    image: [x\n')).toEqual([expect.stringMatching(/^stacks\/web\.yaml:4:1 YAML syntax: /)]);
    expect(one('services:\n  api:\n    image: x\n    image: y\n')).toEqual(['stacks/web.yaml:4:5 YAML syntax: Map keys must be unique']);
  });
  it('collects all errors of all files at once, ordered by file, line, col', () => {
    const r = load({
      'stacks/b.yaml': 'services:\n  api:\n    imagee: x\n    image: y\n    ports: [nope]\n',
      'stacks/a.yaml': 'services:\n  one: { image: x, develop: . }\n  two:\n    image: x\n    restart: never\n',
    });
    expect(errorsOf(r)).toEqual([
      'stacks/a.yaml:2:20 services.one.develop: `develop` is not supported yet (it is planned; remove it for now)',
      'stacks/a.yaml:5:14 services.two.restart: restart must be one of "no", "always", "on-failure[:N]", "unless-stopped", got "never"',
      'stacks/b.yaml:3:5 services.api.imagee: unknown key (did you mean "image"?)',
      'stacks/b.yaml:5:13 services.api.ports[0]: invalid container port "nope" in "nope"',
    ]);
    expect(r.stacks).toEqual([]);
  });
  it('still returns the valid stacks next to invalid ones', () => {
    const r = load({ 'stacks/good.yaml': 'services:\n  a: { image: x }\n', 'stacks/bad.yaml': 'services:\n  a: { imag: x }\n' });
    expect(r.errors).toHaveLength(2);
    expect(r.stacks.map((s) => s.name)).toEqual(['good']);
  });
});

describe('x-capstan.probe', () => {
  it('names a missing or doubled check, a typo and a bad value at their positions', () => {
    const svcWith = (probe: string): string => `services:\n  api:\n    image: x\n    x-capstan:\n      probe: ${probe}\n`;
    expect(one(svcWith('{ interval: 1s }'))).toEqual(['stacks/web.yaml:5:14 services.api.x-capstan.probe: a probe needs one of http, tcp or exec (e.g. probe: { http: { path: /healthz, port: 8080 } })']);
    expect(one(svcWith('{ http: { port: 80 }, tcp: { port: 80 } }'))).toHaveLength(1);
    expect(one(svcWith('{ http: { port: 80, pth: / } }'))[0]).toMatch(/services\.api\.x-capstan\.probe\.http\.pth: unknown key \(did you mean "path"\?\)/);
    expect(one(svcWith('{ tcp: { port: 80 }, failure_threshold: 0 }'))[0]).toMatch(/probe\.failure_threshold: expected a whole number ≥ 1, got 0/);
  });
});

describe('x-capstan at the boundary', () => {
  const svcWith = (lines: string): string => `services:\n  api:\n    image: x\n    x-capstan:\n${lines}`;
  it('names every wrong key and value with file:line, a did-you-mean for typos', () => {
    expect(one(svcWith('      route: { path: no-slash, port: web }\n'))).toEqual([
      'stacks/web.yaml:5:22 services.api.x-capstan.route.path: a path starts with "/"',
      'stacks/web.yaml:5:38 services.api.x-capstan.route.port: invalid port "web"; expected 1-65535',
    ]);
    expect(one(svcWith('      rout: { path: / }\n'))).toEqual(['stacks/web.yaml:5:7 services.api.x-capstan.rout: unknown key (did you mean "route"?)']);
    expect(one(svcWith('      route: [{ hots: a.test }]\n'))[0]).toMatch(/x-capstan\.route\[0\]\.hots: unknown key \(did you mean "host"\?\)/);
    expect(one(svcWith('      progress_deadline: soon\n'))[0]).toMatch(/x-capstan\.progress_deadline: invalid duration "soon"/);
  });
  it('refuses a strategy without its block, and a block without its strategy, at their keys', () => {
    expect(one(svcWith('      strategy: canary\n'))).toEqual(['stacks/web.yaml:5:17 services.api.x-capstan.strategy: `strategy: canary` needs `canary: { steps: [...] }` (e.g. canary: { steps: [ { weight: 10, pause: 30s }, { weight: 100 } ] })']);
    expect(one(svcWith('      blue_green: { scale_down_delay: 30s }\n'))).toEqual(['stacks/web.yaml:5:7 services.api.x-capstan.blue_green: `blue_green` is set but the strategy is not blue-green (add `strategy: blue-green` next to it, or remove `blue_green`)']);
  });
});
