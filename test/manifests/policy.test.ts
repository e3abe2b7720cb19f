// The baseline policy: every rule with its exact error text, and exceptions
// from capstan.yaml (valid, unknown rules, wrong shapes).
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { errorsOf, svc } from './helpers.js';

function check(body: string, capstanYaml?: string): string[] {
  const files = new Map([['stacks/web.yaml', body]]);
  return errorsOf(loadStacks(files, { root: 'stacks', env: {}, policyFile: capstanYaml === undefined ? undefined : { path: 'capstan.yaml', text: capstanYaml } }));
}

const allowHint = (token: string): string => `(to allow it, add to capstan.yaml: policy: { stacks: { web: { allow: [${token}] } } })`;

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
  it('blocks the Docker socket wherever it lives', () => {
    expect(check(svc('volumes:', '  - /var/run/docker.sock:/var/run/docker.sock:ro', '  - type: bind', '    source: /srv/podman/docker.sock', '    target: /s'))).toEqual([
      `stacks/web.yaml:5:9 services.svc.volumes[0]: breaks policy rule docker_socket: bind-mounting /var/run/docker.sock gives the container control of the engine (root on the host) ${allowHint('docker_socket')}`,
      `stacks/web.yaml:6:9 services.svc.volumes[1]: breaks policy rule docker_socket: bind-mounting /srv/podman/docker.sock gives the container control of the engine (root on the host) ${allowHint('docker_socket')}`,
    ]);
  });
  it('blocks /, /etc, /proc, /sys and what lies under /proc and /sys; /etc files only when writable', () => {
    expect(check(svc('volumes:', '  - /:/rootfs:ro', '  - /etc:/host/etc', '  - /proc:/host/proc:ro', '  - /sys/fs/cgroup:/cg', '  - /etc/localtime:/etc/localtime:ro', '  - /etc/hosts:/h', '  - /srv/data:/data'))).toEqual([
      `stacks/web.yaml:5:9 services.svc.volumes[0]: breaks policy rule host_path:/: bind-mounting / exposes the host's system files ${allowHint('"host_path:/"')}`,
      `stacks/web.yaml:6:9 services.svc.volumes[1]: breaks policy rule host_path:/etc: bind-mounting /etc exposes the host's system files ${allowHint('"host_path:/etc"')}`,
      `stacks/web.yaml:7:9 services.svc.volumes[2]: breaks policy rule host_path:/proc: bind-mounting /proc exposes the host's system files ${allowHint('"host_path:/proc"')}`,
      `stacks/web.yaml:8:9 services.svc.volumes[3]: breaks policy rule host_path:/sys/fs/cgroup: bind-mounting /sys/fs/cgroup exposes the host's system files ${allowHint('"host_path:/sys/fs/cgroup"')}`,
      `stacks/web.yaml:10:9 services.svc.volumes[5]: breaks policy rule host_path:/etc/hosts: a writable bind of /etc/hosts could change the host's configuration (mount it read-only with :ro) ${allowHint('"host_path:/etc/hosts"')}`,
    ]);
  });
  it('allows capabilities of the default set, blocks the others and ALL; dropping is fine', () => {
    expect(check(svc('cap_add: [CHOWN, net_admin, CAP_SYS_ADMIN]', 'cap_drop: [ALL]'))).toEqual([
      `stacks/web.yaml:4:22 services.svc.cap_add[1]: breaks policy rule cap:NET_ADMIN: capability NET_ADMIN is beyond Docker's default set ${allowHint('"cap:NET_ADMIN"')}`,
      `stacks/web.yaml:4:33 services.svc.cap_add[2]: breaks policy rule cap:SYS_ADMIN: capability SYS_ADMIN is beyond Docker's default set ${allowHint('"cap:SYS_ADMIN"')}`,
    ]);
    expect(check(svc('cap_add: [ALL]'))).toEqual([`stacks/web.yaml:4:15 services.svc.cap_add[0]: breaks policy rule cap:ALL: capability ALL is beyond Docker's default set ${allowHint('"cap:ALL"')}`]);
  });
  it('blocks devices and unconfined security options', () => {
    expect(check(svc('devices: ["/dev/ttyUSB0:/dev/ttyUSB0"]', 'security_opt: [seccomp:unconfined, no-new-privileges:true, label=disable]'))).toEqual([
      `stacks/web.yaml:4:15 services.svc.devices[0]: breaks policy rule device:/dev/ttyUSB0: host device /dev/ttyUSB0 is passed into the container ${allowHint('"device:/dev/ttyUSB0"')}`,
      `stacks/web.yaml:5:20 services.svc.security_opt[0]: breaks policy rule unconfined: security_opt "seccomp:unconfined" turns off a confinement layer ${allowHint('unconfined')}`,
      `stacks/web.yaml:5:64 services.svc.security_opt[2]: breaks policy rule unconfined: security_opt "label=disable" turns off a confinement layer ${allowHint('unconfined')}`,
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
    expect(check(svc(), 'policy:\n  stacks:\n    web:\n      allow: [host_netwrok, "cap:"]\n')).toEqual([
      'capstan.yaml:4:15 policy.stacks.web.allow[0]: unknown policy rule "host_netwrok"; rules are privileged, host_network, host_pid, host_ipc, docker_socket, unconfined, cap:<NAME>, host_path:<absolute path>, device:<absolute path> (did you mean "host_network"?)',
      'capstan.yaml:4:29 policy.stacks.web.allow[1]: unknown policy rule "cap:"; rules are privileged, host_network, host_pid, host_ipc, docker_socket, unconfined, cap:<NAME>, host_path:<absolute path>, device:<absolute path>',
    ]);
    expect(check(svc(), 'policy:\n  stack: {}\n')).toEqual(['capstan.yaml:2:3 policy.stack: unknown key (did you mean "stacks"?)']);
    expect(check(svc(), 'policy:\n  stacks:\n    web: { alow: [privileged] }\n')).toEqual(['capstan.yaml:3:12 policy.stacks.web.alow: unknown key (did you mean "allow"?)']);
    expect(check(svc(), 'policy: [a]\n')).toEqual(['capstan.yaml:1:9 policy: expected { stacks: { <stack>: { allow: [...] } } }, got a list']);
    expect(check(svc(), 'policy: {\n')[0]).toMatch(/^capstan\.yaml:\d+:\d+ YAML syntax: /);
  });
});
