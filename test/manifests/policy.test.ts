// The baseline policy as an allowlist: every rule with its exact error text,
// exceptions from the repository's capstan.yaml, and the operator's --policy
// file with what it delegates to the repository.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { covers, parseOperatorPolicy, type OperatorPolicy } from '../../src/manifests/policy.js';
import { errorsOf, svc } from './helpers.js';

function check(body: string, capstanYaml?: string, operator?: OperatorPolicy, resolveHostPath?: (p: string) => string): string[] {
  const files = new Map([['stacks/web.yaml', body]]);
  return errorsOf(loadStacks(files, { root: 'stacks', env: {}, policyFile: capstanYaml === undefined ? undefined : { path: 'capstan.yaml', text: capstanYaml }, operatorPolicy: operator, resolveHostPath }));
}

function operator(text: string): OperatorPolicy {
  const r = parseOperatorPolicy('/etc/capstan/policy.yaml', text);
  if (r.policy === undefined) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return r.policy;
}

const allowHint = (token: string): string => `(to allow it, add to capstan.yaml: policy: { stacks: { web: { allow: [${token}] } } })`;
const hostPath = (path: string, extra = ''): string => `bind-mounting the host path ${path}${extra} gives the container the host's files (only /etc/localtime and /etc/timezone are allowed read-only without an exception)`;

describe('baseline policy', () => {
  it('blocks privileged', () => {
    expect(check(svc('privileged: true'))).toEqual([
      `stacks/web.yaml:4:5 services.svc.privileged: breaks policy rule privileged: \`privileged: true\` gives the container every capability and all host devices ${allowHint('privileged')}`,
    ]);
    expect(check(svc('privileged: false'))).toEqual([]);
  });
  it('blocks host network, PID and IPC namespaces', () => {
    expect(check(svc('network_mode: host', 'pid: host', 'ipc: host'))).toEqual([
      `stacks/web.yaml:4:5 services.svc.network_mode: breaks policy rule host_network: \`network_mode: host\` shares the host's network stack ${allowHint('host_network')}`,
      `stacks/web.yaml:5:5 services.svc.pid: breaks policy rule host_pid: \`pid: host\` lets the container see and signal the host's processes ${allowHint('host_pid')}`,
      `stacks/web.yaml:6:5 services.svc.ipc: breaks policy rule host_ipc: \`ipc: host\` shares the host's IPC namespace ${allowHint('host_ipc')}`,
    ]);
    expect(check(svc('network_mode: none', 'ipc: private'))).toEqual([]);
  });
  it('blocks the Docker and containerd sockets wherever they live', () => {
    expect(check(svc('volumes:', '  - /var/run/docker.sock:/var/run/docker.sock:ro', '  - type: bind', '    source: /run/containerd/containerd.sock', '    target: /s'))).toEqual([
      `stacks/web.yaml:5:9 services.svc.volumes[0]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) ${allowHint('docker_socket')}`,
      `stacks/web.yaml:6:9 services.svc.volumes[1]: breaks policy rule docker_socket: bind-mounting /run/containerd/containerd.sock gives the container control of the engine (root on the host) ${allowHint('docker_socket')}`,
    ]);
  });
  it('refuses every host path but /etc/localtime and /etc/timezone read-only, by its normalized path', () => {
    expect(check(svc('volumes:', '  - /etc/shadow:/s:ro', '  - /srv/media/../../root/.ssh:/k', '  - /etc/localtime:/etc/localtime:ro', '  - /etc/timezone:/etc/timezone:ro', '  - /etc/localtime:/etc/localtime'))).toEqual([
      `stacks/web.yaml:5:9 services.svc.volumes[0]: breaks policy rule host_path:/etc/shadow: ${hostPath('/etc/shadow')} ${allowHint('"host_path:/etc/shadow"')}`,
      `stacks/web.yaml:6:9 services.svc.volumes[1]: breaks policy rule host_path:/root/.ssh: ${hostPath('/root/.ssh')} ${allowHint('"host_path:/root/.ssh"')}`,
      `stacks/web.yaml:9:9 services.svc.volumes[4]: breaks policy rule host_path:/etc/localtime: bind-mounting the host path /etc/localtime gives the container the host's files (only /etc/localtime and /etc/timezone are allowed read-only without an exception; mount /etc/localtime read-only with :ro to need none) ${allowHint('"host_path:/etc/localtime"')}`,
    ]);
  });
  it('matches host_path exceptions by whole path segments', () => {
    const body = svc('volumes: [/srv/media:/m, /srv/media/tv:/tv, /srv/media2:/m2]');
    expect(check(body, 'policy:\n  stacks:\n    web: { allow: ["host_path:/srv/media/"] }\n')).toEqual([
      `stacks/web.yaml:4:49 services.svc.volumes[2]: breaks policy rule host_path:/srv/media2: ${hostPath('/srv/media2')} ${allowHint('"host_path:/srv/media2"')}`,
    ]);
    expect(covers('host_path:/', 'host_path:/etc')).toBe(true);
    expect(covers('host_path:/srv', 'host_path:/srvx')).toBe(false);
  });
  it('resolves symbolic links of host paths: an allowed path that links elsewhere is refused', () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'capstan-policy-')));
    try {
      mkdirSync(join(root, 'media'));
      symlinkSync('/etc', join(root, 'media', 'etc'));
      const resolve = (p: string): string => {
        try {
          return realpathSync(p);
        } catch {
          return p;
        }
      };
      const yaml = `policy:\n  stacks:\n    web: { allow: ["host_path:${root}/media"] }\n`;
      expect(check(svc(`volumes: ["${root}/media/etc:/e:ro", "${root}/media/tv:/tv"]`), yaml, undefined, resolve)).toEqual([
        `stacks/web.yaml:4:15 services.svc.volumes[0]: breaks policy rule host_path:/etc: ${hostPath(`${root}/media/etc`, ' (a link to /etc)')} ${allowHint('"host_path:/etc"')}`,
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  it('allows capabilities of the default set, blocks the others and ALL; dropping is fine', () => {
    expect(check(svc('cap_add: [CHOWN, net_admin, CAP_SYS_ADMIN]', 'cap_drop: [ALL]'))).toEqual([
      `stacks/web.yaml:4:22 services.svc.cap_add[1]: breaks policy rule cap:NET_ADMIN: capability NET_ADMIN is beyond Docker's default set ${allowHint('"cap:NET_ADMIN"')}`,
      `stacks/web.yaml:4:33 services.svc.cap_add[2]: breaks policy rule cap:SYS_ADMIN: capability SYS_ADMIN is beyond Docker's default set ${allowHint('"cap:SYS_ADMIN"')}`,
    ]);
    expect(check(svc('cap_add: [ALL]'))).toEqual([`stacks/web.yaml:4:15 services.svc.cap_add[0]: breaks policy rule cap:ALL: capability ALL is beyond Docker's default set ${allowHint('"cap:ALL"')}`]);
  });
  it('blocks devices and every security option but no-new-privileges and an SELinux level', () => {
    expect(check(svc('devices: ["/dev/ttyUSB0:/dev/ttyUSB0"]', 'security_opt: [seccomp:unconfined, no-new-privileges:true, label=disable, "label=level:s0:c100,c200", apparmor=docker-custom, label=type:spc_t]'))).toEqual([
      `stacks/web.yaml:4:15 services.svc.devices[0]: breaks policy rule device:/dev/ttyUSB0: host device /dev/ttyUSB0 is passed into the container ${allowHint('"device:/dev/ttyUSB0"')}`,
      `stacks/web.yaml:5:20 services.svc.security_opt[0]: breaks policy rule unconfined: security_opt "seccomp:unconfined" turns off a confinement layer ${allowHint('unconfined')}`,
      `stacks/web.yaml:5:64 services.svc.security_opt[2]: breaks policy rule unconfined: security_opt "label=disable" turns off a confinement layer ${allowHint('unconfined')}`,
      `stacks/web.yaml:5:107 services.svc.security_opt[4]: breaks policy rule security_opt:apparmor: security_opt "apparmor=docker-custom" replaces a confinement profile (only no-new-privileges and label=level: are allowed without an exception) ${allowHint('"security_opt:apparmor"')}`,
      `stacks/web.yaml:5:131 services.svc.security_opt[5]: breaks policy rule security_opt:label: security_opt "label=type:spc_t" replaces a confinement profile (only no-new-privileges and label=level: are allowed without an exception) ${allowHint('"security_opt:label"')}`,
    ]);
    expect(check(svc(`security_opt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']`))).toEqual([
      `stacks/web.yaml:4:20 services.svc.security_opt[0]: breaks policy rule security_opt:seccomp: security_opt "seccomp={\\"defaultAction\\":\\"SCMP_ACT_ALLOW\\"}" replaces a confinement profile (only no-new-privileges and label=level: are allowed without an exception) ${allowHint('"security_opt:seccomp"')}`,
    ]);
  });
  it("allows only Kubernetes' safe sysctls", () => {
    expect(check(svc('sysctls: { net.ipv4.ip_unprivileged_port_start: 0, kernel.shm_rmid_forced: 1, net.core.somaxconn: 1024, kernel/core_pattern: "|/tmp/x" }'))).toEqual([
      `stacks/web.yaml:4:83 services.svc.sysctls.net.core.somaxconn: breaks policy rule sysctl:net.core.somaxconn: sysctl net.core.somaxconn is not in the namespaced safe set (Kubernetes' baseline) ${allowHint('"sysctl:net.core.somaxconn"')}`,
      `stacks/web.yaml:4:109 services.svc.sysctls.kernel/core_pattern: breaks policy rule sysctl:kernel.core_pattern: sysctl kernel.core_pattern is not in the namespaced safe set (Kubernetes' baseline) ${allowHint('"sysctl:kernel.core_pattern"')}`,
    ]);
  });
  it('needs an exception for logging to a host socket or path, and for drivers it cannot vouch for', () => {
    expect(check(svc('logging: { driver: json-file, options: { max-size: 10m } }'))).toEqual([]);
    expect(check(svc('logging: { driver: syslog, options: { syslog-address: "tcp://logs.example:514" } }'))).toEqual([]);
    expect(check(svc('logging: { driver: syslog, options: { syslog-address: "unix:///run/systemd/journal/syslog" } }'))).toEqual([
      `stacks/web.yaml:4:32 services.svc.logging.options: breaks policy rule logging:syslog: logging option syslog-address=unix:///run/systemd/journal/syslog makes the engine write to a host socket or path ${allowHint('"logging:syslog"')}`,
    ]);
    expect(check(svc('logging: { driver: "vendor/plugin:1" }'))).toEqual([
      `stacks/web.yaml:4:24 services.svc.logging.driver: breaks policy rule logging:vendor/plugin:1: logging driver vendor/plugin:1 is a plugin or a driver Capstan cannot vouch for ${allowHint('"logging:vendor/plugin:1"')}`,
    ]);
  });
  it('needs an exception for the external networks host, none and container:*, and for any external volume', () => {
    const body = `${svc('networks: [h, n, v, proxy]', 'volumes: [db:/db]')}networks:\n  h: { external: true, name: host }\n  n: { external: true, name: none }\n  v: { external: true, name: "container:victim" }\n  proxy: { external: true }\nvolumes:\n  db: { external: true, name: other_db }\n`;
    expect(check(body)).toEqual([
      `stacks/web.yaml:7:8 networks.h.external: breaks policy rule external_network:host: joining the engine's \`host\` network shares the host's network stack ${allowHint('"external_network:host"')}`,
      `stacks/web.yaml:8:8 networks.n.external: breaks policy rule external_network:none: joining the engine's \`none\` network takes the container out of its stack's networks ${allowHint('"external_network:none"')}`,
      `stacks/web.yaml:9:8 networks.v.external: breaks policy rule external_network:container:victim: joining the engine's \`container:victim\` network takes the container out of its stack's networks ${allowHint('"external_network:container:victim"')}`,
      `stacks/web.yaml:12:9 volumes.db.external: breaks policy rule external_volume:other_db: an external volume is any volume of the engine (other_db), with whatever data another project keeps in it ${allowHint('"external_volume:other_db"')}`,
    ]);
  });
  it('refuses io.capstan.* and com.docker.compose.* labels anywhere, with no exception', () => {
    const reserved = (label: string): string => `label ${label} is reserved: Capstan and Compose set the io.capstan.* and com.docker.compose.* labels themselves and read them to decide what they own (rename the label (e.g. drop the prefix))`;
    const body = `${svc('labels: { io.capstan.role: router, app: x }', 'deploy: { labels: [com.docker.compose.project=other] }', 'networks: [n]')}networks:\n  n: { labels: { io.capstan.instance: prod } }\n`;
    expect(check(body, 'policy:\n  stacks:\n    web: { allow: [privileged] }\n')).toEqual([
      `stacks/web.yaml:4:15 services.svc.labels.io.capstan.role: ${reserved('io.capstan.role')}`,
      `stacks/web.yaml:5:24 services.svc.deploy.labels[0]: ${reserved('com.docker.compose.project')}`,
      `stacks/web.yaml:8:18 networks.n.labels.io.capstan.instance: ${reserved('io.capstan.instance')}`,
    ]);
  });
});

describe('container names across stacks', () => {
  it('refuses two stacks whose names give the same container name, at both services', () => {
    const files = new Map([
      ['stacks/a.yaml', 'services:\n  b-c: { image: x }\n'],
      ['stacks/a-b.yaml', 'services:\n  c: { image: x }\n'],
      ['stacks/ok.yaml', 'services:\n  c: { image: x }\n'],
    ]);
    const r = loadStacks(files, { root: 'stacks', env: {} });
    expect(errorsOf(r)).toEqual([
      "stacks/a-b.yaml:2:3 services.c: container name a-b-c-1 is also the name of a container of stack a, service b-c (stacks/a.yaml) (rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service's container)",
      "stacks/a.yaml:2:3 services.b-c: container name a-b-c-1 is also the name of a container of stack a-b, service c (stacks/a-b.yaml) (rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service's container)",
    ]);
    expect(r.stacks.map((s) => s.name)).toEqual(['ok']);
  });
  it("refuses a container_name of another service's replica, and the router's names", () => {
    const files = new Map([
      ['stacks/web.yaml', 'services:\n  api: { image: x, deploy: { replicas: 2 } }\n'],
      ['stacks/db.yaml', 'services:\n  pg: { image: x, container_name: web-api-2 }\n  r: { image: x, container_name: capstan-router-default }\n'],
    ]);
    expect(errorsOf(loadStacks(files, { root: 'stacks', env: {} }))).toEqual([
      "stacks/db.yaml:2:35 services.pg.container_name: container name web-api-2 is also the name of a container of stack web, service api (stacks/web.yaml) (rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service's container)",
      "stacks/db.yaml:3:34 services.r.container_name: container name capstan-router-default is reserved for Capstan's router containers (capstan-router-<instance>) (rename the stack or the service, or set another `container_name`)",
      "stacks/web.yaml:2:3 services.api: container name web-api-2 is also the name of a container of stack db, service pg (stacks/db.yaml) (rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service's container)",
    ]);
  });
  it('refuses a container_name a canary step of another service would take', () => {
    const files = new Map([
      ['stacks/web.yaml', 'services:\n  api: { image: x }\n'],
      ['stacks/db.yaml', 'services:\n  pg: { image: x, container_name: web-api-1-canary }\n'],
    ]);
    expect(errorsOf(loadStacks(files, { root: 'stacks', env: {} }))).toEqual([
      "stacks/db.yaml:2:35 services.pg.container_name: container name web-api-1-canary is also the name of a container of stack web, service api (stacks/web.yaml) (rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service's container)",
      "stacks/web.yaml:2:3 services.api: container name web-api-1-canary is also the name of a container of stack db, service pg (stacks/db.yaml) (rename a stack or a service, or set `container_name`: two containers cannot share a name, and Capstan never removes another service's container)",
    ]);
  });
});

describe('capstan.yaml policy exceptions', () => {
  const risky = svc('privileged: true', 'network_mode: host', 'cap_add: [NET_ADMIN]', 'devices: [/dev/fuse]', 'volumes: [/var/run/docker.sock:/var/run/docker.sock, /proc:/host/proc:ro]');
  it('allows exactly the named exceptions for the named stack', () => {
    const yaml = 'repo: ignored-here\npolicy:\n  stacks:\n    web:\n      allow: [privileged, host_network, "cap:net_admin", "device:/dev/fuse", docker_socket, "host_path:/proc"]\n';
    expect(check(risky, yaml)).toEqual([]);
    expect(check(risky, 'policy:\n  stacks:\n    other: { allow: [privileged] }\n')).toHaveLength(6);
    expect(check(risky, 'policy:\n  stacks:\n    web: { allow: [privileged] }\n')).toHaveLength(5);
  });
  it('rejects unknown rules with a did-you-mean, and wrong shapes, at their position in capstan.yaml', () => {
    const rules = 'rules are privileged, host_network, host_pid, host_ipc, docker_socket, unconfined, cap:<NAME>, host_path:<absolute path>, device:<absolute path>, sysctl:<name>, security_opt:<seccomp|apparmor|label|...>, logging:<driver>, external_network:<name>, external_volume:<name>';
    expect(check(svc(), 'policy:\n  stacks:\n    web:\n      allow: [host_netwrok, "cap:"]\n')).toEqual([
      `capstan.yaml:4:15 policy.stacks.web.allow[0]: unknown policy rule "host_netwrok"; ${rules} (did you mean "host_network"?)`,
      `capstan.yaml:4:29 policy.stacks.web.allow[1]: unknown policy rule "cap:"; ${rules}`,
    ]);
    expect(check(svc(), 'policy:\n  stack: {}\n')).toEqual(['capstan.yaml:2:3 policy.stack: unknown key (did you mean "stacks"?)']);
    expect(check(svc(), 'policy:\n  stacks:\n    web: { alow: [privileged] }\n')).toEqual(['capstan.yaml:3:12 policy.stacks.web.alow: unknown key (did you mean "allow"?)']);
    expect(check(svc(), 'policy: [a]\n')).toEqual(['capstan.yaml:1:9 policy: expected { stacks: { <stack>: { allow: [...] } } }, got a list']);
    expect(check(svc(), 'policy: {\n')[0]).toMatch(/^capstan\.yaml:\d+:\d+ YAML syntax: /);
  });
});

describe('the operator policy file', () => {
  const body = svc('privileged: true', 'cap_add: [NET_ADMIN]', 'volumes: [/srv/media/tv:/tv, /srv/backup:/b]');
  const capstanYaml = 'policy:\n  stacks:\n    web: { allow: [privileged, "cap:NET_ADMIN", "host_path:/srv/media"] }\n';
  it('grants exceptions itself, and counts only what it delegates of the repository\'s grants', () => {
    const op = operator('stacks:\n  web: { allow: ["host_path:/srv/backup"] }\ndelegate:\n  web: ["host_path:/srv/media", "cap:NET_ADMIN"]\n');
    expect(check(body, capstanYaml, op)).toEqual([
      "capstan.yaml:3:20 policy.stacks.web.allow[0]: stack web cannot grant itself privileged: the operator's policy /etc/capstan/policy.yaml does not delegate it (the operator can allow it in /etc/capstan/policy.yaml (stacks: { web: { allow: [privileged] } }) or delegate it to the repository (delegate: { web: [privileged] }))",
      "stacks/web.yaml:4:5 services.svc.privileged: breaks policy rule privileged: `privileged: true` gives the container every capability and all host devices (to allow it, add to the operator's policy /etc/capstan/policy.yaml: stacks: { web: { allow: [privileged] } })",
    ]);
  });
  it('says where to allow a breach: the repository for delegated rules, the operator file for others', () => {
    const op = operator('delegate:\n  "*": ["cap:NET_ADMIN"]\n');
    expect(check(svc('cap_add: [NET_ADMIN]', 'pid: host'), undefined, op)).toEqual([
      `stacks/web.yaml:4:15 services.svc.cap_add[0]: breaks policy rule cap:NET_ADMIN: capability NET_ADMIN is beyond Docker's default set ${allowHint('"cap:NET_ADMIN"')}`,
      "stacks/web.yaml:5:5 services.svc.pid: breaks policy rule host_pid: `pid: host` lets the container see and signal the host's processes (to allow it, add to the operator's policy /etc/capstan/policy.yaml: stacks: { web: { allow: [host_pid] } })",
    ]);
    expect(check(svc('cap_add: [NET_ADMIN]'), 'policy:\n  stacks:\n    web: { allow: ["cap:NET_ADMIN"] }\n', op)).toEqual([]);
  });
  it('reports its own mistakes at their lines, with a did-you-mean', () => {
    expect(parseOperatorPolicy('policy.yaml', 'stack: {}\nlimits: { replica: 3, file_bytes: -1 }\ndelegate: { web: [privilegd] }\n').errors.map((e) => e.format())).toEqual([
      'policy.yaml:1:1 stack: unknown key (did you mean "stacks"?)',
      'policy.yaml:2:11 limits.replica: unknown key (did you mean "replicas"?)',
      'policy.yaml:2:35 limits.file_bytes: expected a number above 0',
      'policy.yaml:3:19 delegate.web[0]: unknown policy rule "privilegd"; rules are privileged, host_network, host_pid, host_ipc, docker_socket, unconfined, cap:<NAME>, host_path:<absolute path>, device:<absolute path>, sysctl:<name>, security_opt:<seccomp|apparmor|label|...>, logging:<driver>, external_network:<name>, external_volume:<name>, or "*" (did you mean "privileged"?)',
    ]);
    expect(operator('limits: { replicas: 5 }\n').limits.replicas).toBe(5);
  });
});
