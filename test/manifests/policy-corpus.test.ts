// The policy corpus (test/fixtures/policy/): attacks a repository author
// could try, each refused at its line with the rule (or limit) it breaks, and
// benign real-world files that must stay accepted without any exception.
// Every rule's full message is tested in policy.test.ts and limits.test.ts;
// here each refusal is checked up to the rule it names.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { errorsOf } from './helpers.js';

const DIR = join(import.meta.dirname, '../fixtures/policy');

/** A file is one stack; a directory is a whole stacks directory (for attacks across stacks). */
function load(kind: 'attacks' | 'benign', entry: string): string[] {
  const files = new Map<string, string>();
  const full = join(DIR, kind, entry);
  if (statSync(full).isDirectory()) for (const f of readdirSync(full)) files.set(`stacks/${f}`, readFileSync(join(full, f), 'utf8'));
  else files.set(`stacks/${entry}`, readFileSync(full, 'utf8'));
  return errorsOf(loadStacks(files, { root: 'stacks', env: {} }));
}

/** Each refusal up to the rule or limit it names (the part before the explanation). */
const ATTACKS: Readonly<Record<string, readonly string[]>> = {
  'age-key.yaml': ['stacks/age-key.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/etc/capstan/age.key'],
  'apparmor-other.yaml': ['stacks/apparmor-other.yaml:5:20 services.app.security_opt[0]: breaks policy rule security_opt:apparmor'],
  'apparmor-unconfined.yaml': ['stacks/apparmor-unconfined.yaml:5:20 services.app.security_opt[0]: breaks policy rule unconfined'],
  'cap-all.yaml': ['stacks/cap-all.yaml:5:15 services.app.cap_add[0]: breaks policy rule cap:ALL'],
  'cap-sys-admin.yaml': ['stacks/cap-sys-admin.yaml:5:15 services.app.cap_add[0]: breaks policy rule cap:SYS_ADMIN'],
  'capstan-data-dir.yaml': ['stacks/capstan-data-dir.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/var/lib/capstan'],
  'containerd-socket.yaml': ['stacks/containerd-socket.yaml:5:15 services.app.volumes[0]: breaks policy rule docker_socket'],
  'control-characters.yaml': ['stacks/control-characters.yaml:5:30 services.app.environment.GREETING: control character U+0000 in "hello\\u0000 world"'],
  'crontabs.yaml': ['stacks/crontabs.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/var/spool/cron/crontabs'],
  'dbus-socket.yaml': ['stacks/dbus-socket.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/run/dbus/system_bus_socket'],
  'device-mem.yaml': ['stacks/device-mem.yaml:5:15 services.app.devices[0]: breaks policy rule device:/dev/mem'],
  'docker-socket-long.yaml': ['stacks/docker-socket-long.yaml:6:9 services.app.volumes[0]: breaks policy rule docker_socket'],
  'docker-socket.yaml': ['stacks/docker-socket.yaml:5:15 services.app.volumes[0]: breaks policy rule docker_socket'],
  'dot-dot-escape.yaml': ['stacks/dot-dot-escape.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/etc'],
  'etc-long-syntax.yaml': ['stacks/etc-long-syntax.yaml:6:9 services.app.volumes[0]: breaks policy rule host_path:/etc'],
  'etc-shadow.yaml': ['stacks/etc-shadow.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/etc/shadow'],
  'external-network-container.yaml': ['stacks/external-network-container.yaml:8:5 networks.victim.external: breaks policy rule external_network:container:db-1'],
  'external-network-host.yaml': ['stacks/external-network-host.yaml:7:14 networks.hostnet.external: breaks policy rule external_network:host'],
  'external-network-none.yaml': ['stacks/external-network-none.yaml:7:12 networks.nonet.external: breaks policy rule external_network:none'],
  'external-volume.yaml': ['stacks/external-volume.yaml:7:11 volumes.loot.external: breaks policy rule external_volume:other_db_data'],
  'home.yaml': ['stacks/home.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/home'],
  'host-ipc.yaml': ['stacks/host-ipc.yaml:5:5 services.app.ipc: breaks policy rule host_ipc'],
  'host-network.yaml': ['stacks/host-network.yaml:5:5 services.app.network_mode: breaks policy rule host_network'],
  'host-pid.yaml': ['stacks/host-pid.yaml:5:5 services.app.pid: breaks policy rule host_pid'],
  'invalid-utf8.yaml': ['stacks/invalid-utf8.yaml:3:24 the file is not valid UTF-8 (or holds U+FFFD)'],
  'label-compose-project.yaml': ['stacks/label-compose-project.yaml:5:14 services.app.labels[0]: label com.docker.compose.project is reserved'],
  'label-deploy-instance.yaml': ['stacks/label-deploy-instance.yaml:5:25 services.app.deploy.labels.io.capstan.instance: label io.capstan.instance is reserved'],
  'label-network.yaml': ['stacks/label-network.yaml:7:18 networks.n.labels.io.capstan.stack: label io.capstan.stack is reserved'],
  'label-router-role.yaml': ['stacks/label-router-role.yaml:5:15 services.app.labels.io.capstan.role: label io.capstan.role is reserved'],
  'label-volume.yaml': ['stacks/label-volume.yaml:7:18 volumes.v.labels.com.docker.compose.volume: label com.docker.compose.volume is reserved'],
  'localtime-writable.yaml': ['stacks/localtime-writable.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/etc/localtime'],
  'logging-fluentd-socket.yaml': ['stacks/logging-fluentd-socket.yaml:7:7 services.app.logging.options: breaks policy rule logging:fluentd'],
  'logging-plugin.yaml': ['stacks/logging-plugin.yaml:5:24 services.app.logging.driver: breaks policy rule logging:evil/logger:latest'],
  'logging-syslog-socket.yaml': ['stacks/logging-syslog-socket.yaml:7:7 services.app.logging.options: breaks policy rule logging:syslog'],
  'long-name.yaml': ['stacks/long-name.yaml:2:1 name: stack name "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." is 100000 characters; the limit is 63 (limits.name_length in the operator\'s --policy file) (use a shorter file, directory or `name:`)'],
  'name-collision': [
    'stacks/a-b.yaml:2:3 services.c: container name a-b-c-1 is also the name of a container of stack a, service b-c (stacks/a.yaml) (rename a stack or a service, or set `container_name`',
    'stacks/a.yaml:3:3 services.b-c: container name a-b-c-1 is also the name of a container of stack a-b, service c (stacks/a-b.yaml) (rename a stack or a service, or set `container_name`',
  ],
  'port-range-all.yaml': ['stacks/port-range-all.yaml:5:13 services.app.ports[0]: a port range of 65535 ports; the limit is 100 (limits.ports_per_range in the operator\'s --policy file) (publish fewer ports, or ask the operator to raise the limit)'],
  'privileged.yaml': ['stacks/privileged.yaml:5:5 services.app.privileged: breaks policy rule privileged'],
  'proc.yaml': ['stacks/proc.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/proc'],
  'replicas-million.yaml': ['stacks/replicas-million.yaml:5:25 services.app.deploy.replicas: 1000000 replicas; the limit is 100 (limits.replicas in the operator\'s --policy file)'],
  'root-fs.yaml': ['stacks/root-fs.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/'],
  'root-ssh.yaml': ['stacks/root-ssh.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/root/.ssh'],
  'router-name.yaml': ['stacks/router-name.yaml:5:21 services.app.container_name: container name capstan-router-default is reserved for Capstan\'s router containers (capstan-router-<instance>) (rename the stack or the service, or set another `container_name`)'],
  'run-containerd.yaml': ['stacks/run-containerd.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/run/containerd'],
  'seccomp-inline-allow-all.yaml': ['stacks/seccomp-inline-allow-all.yaml:5:20 services.app.security_opt[0]: breaks policy rule security_opt:seccomp'],
  'seccomp-unconfined.yaml': ['stacks/seccomp-unconfined.yaml:5:20 services.app.security_opt[0]: breaks policy rule unconfined'],
  'selinux-disable.yaml': ['stacks/selinux-disable.yaml:5:20 services.app.security_opt[0]: breaks policy rule unconfined'],
  'selinux-spc.yaml': ['stacks/selinux-spc.yaml:5:20 services.app.security_opt[0]: breaks policy rule security_opt:label'],
  'sysctl-core-pattern.yaml': ['stacks/sysctl-core-pattern.yaml:5:16 services.app.sysctls.kernel.core_pattern: breaks policy rule sysctl:kernel.core_pattern'],
  'sysctl-ip-forward.yaml': ['stacks/sysctl-ip-forward.yaml:5:14 services.app.sysctls.net.ipv4.ip_forward: breaks policy rule sysctl:net.ipv4.ip_forward'],
  'systemd-units.yaml': ['stacks/systemd-units.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/lib/systemd/system'],
  'systempaths-unconfined.yaml': ['stacks/systempaths-unconfined.yaml:5:20 services.app.security_opt[0]: breaks policy rule unconfined'],
  'usr-local-bin.yaml': ['stacks/usr-local-bin.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/usr/local/bin'],
  'var-lib-containerd.yaml': ['stacks/var-lib-containerd.yaml:5:15 services.app.volumes[0]: breaks policy rule host_path:/var/lib/containerd'],
};

describe('policy corpus: attacks', () => {
  it('has an expectation for every attack file, and at least 40 of them', () => {
    expect(Object.keys(ATTACKS).sort()).toEqual(readdirSync(join(DIR, 'attacks')).sort());
    expect(Object.keys(ATTACKS).length).toBeGreaterThanOrEqual(40);
  });
  for (const [entry, expected] of Object.entries(ATTACKS)) {
    it(`${entry} is refused`, () => {
      const errors = load('attacks', entry);
      expect(errors.map((e) => e.slice(0, (expected[errors.indexOf(e)] ?? '').length))).toEqual(expected);
    });
  }
});

describe('policy corpus: benign real-world files', () => {
  const benign = readdirSync(join(DIR, 'benign')).sort();
  it('holds at least 20 files', () => expect(benign.length).toBeGreaterThanOrEqual(20));
  for (const entry of benign) it(`${entry} is accepted as it is`, () => expect(load('benign', entry)).toEqual([]));
});
