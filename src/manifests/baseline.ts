// The security baseline of DESIGN §2, like Kubernetes' Pod Security
// "baseline", as an allowlist: what a manifest may ask for without an
// exception, and a positioned error naming the rule and how to allow it for
// everything else. Labels Capstan and Compose use for ownership are refused
// outright: no exception makes them safe. Pure: host paths are resolved by a
// function the caller passes in.

import type { LoggingSpec, MountSpec, StackSpec } from './model.js';
import type { PathSegment } from './parse-yaml.js';
import { normalizeAbsolute, type Policy } from './policy.js';
import type { FileProblems } from './problems.js';

/** Docker's default capability set: adding one of these changes nothing. */
export const DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

/** Host files a container may read without an exception: harmless, and what many images expect. */
const HARMLESS_HOST_FILES: ReadonlySet<string> = new Set(['/etc/localtime', '/etc/timezone']);

/** The namespaced sysctls Kubernetes calls safe (pod isolation holds, no host-wide effect). */
const SAFE_SYSCTLS: ReadonlySet<string> = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
]);

/** Logging drivers that keep logs in the engine or the journal; others may write to host paths or sockets. */
const LOCAL_LOG_DRIVERS: ReadonlySet<string> = new Set(['json-file', 'local', 'journald', 'none']);
/** Drivers that ship logs over the network: fine unless an option points at a unix socket or a host path. */
const NETWORK_LOG_DRIVERS: ReadonlySet<string> = new Set(['syslog', 'gelf', 'fluentd', 'splunk', 'awslogs', 'gcplogs', 'logentries']);

/** Label prefixes Capstan and Compose read to decide what they own. */
const RESERVED_LABEL_PREFIXES = ['io.capstan.', 'com.docker.compose.'] as const;

export interface BaselineInput {
  stack: StackSpec;
  /** Services after `extends`, as plain data: finds the index of a value in a list. */
  rawServices: Readonly<Record<string, unknown>>;
  /** The file that declares each service, and each top-level network or volume (a stack may include others). */
  fpOfService: (service: string) => FileProblems;
  fpOfDeclaration: (section: 'networks' | 'volumes', key: string) => FileProblems;
  /** A host path with its symbolic links resolved as far as it exists (identity without a host to ask). */
  resolveHostPath: (path: string) => string;
}

interface Breach {
  fp: FileProblems;
  path: PathSegment[];
  anchor: 'key' | 'value';
  rule: string;
  why: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const normalizeCap = (v: unknown): string => String(v).trim().toUpperCase().replace(/^CAP_/, '');

/** Reports every breach of the baseline in the stack that `policy` does not allow it, and every reserved label. */
export function checkBaseline(input: BaselineInput, policy: Policy): void {
  const { stack } = input;
  const breaches: Breach[] = [];
  for (const [name, s] of Object.entries(stack.services)) {
    const fp = input.fpOfService(name);
    const base: PathSegment[] = ['services', name];
    const raw = input.rawServices[name];
    const rawOf = (key: string): unknown[] => (isRecord(raw) && Array.isArray(raw[key]) ? raw[key] : []);
    const add = (path: PathSegment[], anchor: Breach['anchor'], rule: string, why: string): void => void breaches.push({ fp, path: [...base, ...path], anchor, rule, why });
    if (s.privileged) add(['privileged'], 'key', 'privileged', '`privileged: true` gives the container every capability and all host devices');
    if (s.networkMode === 'host') add(['network_mode'], 'key', 'host_network', "`network_mode: host` shares the host's network stack");
    if (s.pid === 'host') add(['pid'], 'key', 'host_pid', "`pid: host` lets the container see and signal the host's processes");
    if (s.ipc === 'host') add(['ipc'], 'key', 'host_ipc', "`ipc: host` shares the host's IPC namespace");
    const rawCaps = rawOf('cap_add');
    for (const cap of s.capAdd) {
      if (DEFAULT_CAPABILITIES.has(cap)) continue;
      const i = rawCaps.findIndex((c) => normalizeCap(c) === cap);
      add(['cap_add', Math.max(i, 0)], 'value', `cap:${cap}`, `capability ${cap} is beyond Docker's default set`);
    }
    s.volumes.forEach((m, i) => {
      const b = mountBreach(m, input.resolveHostPath);
      if (b !== undefined) add(['volumes', i], 'value', b.rule, b.why);
    });
    s.devices.forEach((d, i) => add(['devices', i], 'value', `device:${normalizeAbsolute(d.source)}`, `host device ${d.source} is passed into the container`));
    s.securityOpt.forEach((opt, i) => {
      const b = securityOptBreach(opt);
      if (b !== undefined) add(['security_opt', i], 'value', b.rule, b.why);
    });
    for (const key of Object.keys(s.sysctls)) {
      const name = key.replace(/\//g, '.');
      if (!SAFE_SYSCTLS.has(name)) add(['sysctls', key], 'key', `sysctl:${name}`, `sysctl ${name} is not in the namespaced safe set (Kubernetes' baseline)`);
    }
    if (s.logging !== undefined) {
      const b = loggingBreach(s.logging);
      if (b !== undefined) add(['logging', b.option === undefined ? 'driver' : 'options'], b.option === undefined ? 'value' : 'key', b.rule, b.why);
    }
    reservedLabels(fp, base, 'labels', s.labels, raw);
    reservedLabels(fp, [...base, 'deploy'], 'labels', s.deployLabels, isRecord(raw) ? raw['deploy'] : undefined);
    if (s.build !== undefined) reservedLabels(fp, [...base, 'build'], 'labels', s.build.labels, isRecord(raw) ? raw['build'] : undefined);
  }
  for (const n of Object.values(stack.networks)) {
    const fp = input.fpOfDeclaration('networks', n.name);
    if (n.external && (n.engineName === 'host' || n.engineName === 'none' || n.engineName.startsWith('container:'))) {
      breaches.push({ fp, path: ['networks', n.name, 'external'], anchor: 'key', rule: `external_network:${n.engineName}`, why: n.engineName === 'host' ? "joining the engine's `host` network shares the host's network stack" : `joining the engine's \`${n.engineName}\` network takes the container out of its stack's networks` });
    }
    reservedLabels(fp, ['networks', n.name], 'labels', n.labels, undefined);
  }
  for (const v of Object.values(stack.volumes)) {
    const fp = input.fpOfDeclaration('volumes', v.name);
    if (v.external) breaches.push({ fp, path: ['volumes', v.name, 'external'], anchor: 'key', rule: `external_volume:${v.engineName}`, why: `an external volume is any volume of the engine (${v.engineName}), with whatever data another project keeps in it` });
    reservedLabels(fp, ['volumes', v.name], 'labels', v.labels, undefined);
  }
  for (const b of breaches) {
    if (policy.allows(stack.name, b.rule)) continue;
    b.fp.error(b.path, `breaks policy rule ${b.rule}: ${b.why}`, policy.hint(stack.name, b.rule), b.anchor);
  }
}

/** Named volumes and tmpfs never reach host paths, and relative binds stay inside the repository (normalize.ts refuses the rest). */
function mountBreach(m: MountSpec, resolve: (path: string) => string): { rule: string; why: string } | undefined {
  if (m.type !== 'bind' || m.relative) return undefined;
  const written = normalizeAbsolute(m.source);
  const real = normalizeAbsolute(resolve(written));
  const socket = [written, real].find((p) => p.endsWith('/docker.sock') || p.endsWith('/containerd.sock'));
  if (socket !== undefined) return { rule: 'docker_socket', why: `bind-mounting ${socket} gives the container control of the engine (root on the host)` };
  if (HARMLESS_HOST_FILES.has(written) && m.readOnly) return undefined;
  const through = real === written ? '' : ` (a link to ${real})`;
  const harmless = HARMLESS_HOST_FILES.has(written) ? `; mount ${written} read-only with :ro to need none` : '';
  return { rule: `host_path:${real}`, why: `bind-mounting the host path ${written}${through} gives the container the host's files (only ${[...HARMLESS_HOST_FILES].join(' and ')} are allowed read-only without an exception${harmless})` };
}

/** `no-new-privileges` and an SELinux level are hardening; every other option changes or removes a confinement layer. */
function securityOptBreach(opt: string): { rule: string; why: string } | undefined {
  const o = opt.trim();
  if (/^no-new-privileges([:=]true)?$/.test(o) || /^label[:=]level:/.test(o)) return undefined;
  if (/unconfined$|^label[=:]disable$/.test(o)) return { rule: 'unconfined', why: `security_opt ${JSON.stringify(opt)} turns off a confinement layer` };
  const kind = /^[a-z-]+/.exec(o)?.[0] ?? o;
  return { rule: `security_opt:${kind}`, why: `security_opt ${JSON.stringify(opt.length > 60 ? `${opt.slice(0, 57)}...` : opt)} replaces a confinement profile (only no-new-privileges and label=level: are allowed without an exception)` };
}

function loggingBreach(l: LoggingSpec): { rule: string; why: string; option?: string } | undefined {
  const driver = l.driver;
  if (driver === undefined || LOCAL_LOG_DRIVERS.has(driver)) return undefined;
  if (!NETWORK_LOG_DRIVERS.has(driver)) return { rule: `logging:${driver}`, why: `logging driver ${driver} is a plugin or a driver Capstan cannot vouch for` };
  const local = Object.entries(l.options).find(([, v]) => /^(unix|unixgram):\/\//.test(v) || v.startsWith('/'));
  if (local === undefined) return undefined;
  return { rule: `logging:${driver}`, why: `logging option ${local[0]}=${local[1]} makes the engine write to a host socket or path`, option: local[0] };
}

/** A label key of Capstan's or Compose's is an error wherever a manifest sets it. */
function reservedLabels(fp: FileProblems, base: PathSegment[], key: string, labels: Readonly<Record<string, string>>, raw: unknown): void {
  const rawList = isRecord(raw) && Array.isArray(raw[key]) ? (raw[key] as unknown[]) : undefined;
  for (const label of Object.keys(labels)) {
    if (!RESERVED_LABEL_PREFIXES.some((p) => label.startsWith(p))) continue;
    const i = rawList?.findIndex((item) => typeof item === 'string' && (item === label || item.startsWith(`${label}=`))) ?? -1;
    const at: PathSegment[] = i >= 0 ? [...base, key, i] : [...base, key, label];
    fp.error(at, `label ${label} is reserved: Capstan and Compose set the io.capstan.* and com.docker.compose.* labels themselves and read them to decide what they own`, 'rename the label (e.g. drop the prefix)', i >= 0 ? 'value' : 'key');
  }
}
