// Says in words how two versions of a service spec differ, for the cause of a
// recreate. Values of environment variables and build args are masked, and
// secrets are named, never shown: a plan is posted in pull requests and logs.

import { canonicalJson } from '../desired/spec-hash.js';
import { posix } from 'node:path';
import type { BuildSpec, MountedFile, MountSpec, ServiceSpec } from '../manifests/model.js';

type Key = keyof ServiceSpec;

// Order of the reasons in a cause: the ones a reviewer cares about first.
const KEYS: readonly Key[] = [
  'build', 'image', 'secrets', 'configs', 'command', 'entrypoint', 'environment', 'ports', 'expose', 'volumes', 'networks', 'labels',
  'healthcheck', 'restart', 'user', 'workingDir', 'stopSignal', 'stopGracePeriodMs', 'dependsOn',
  'resources', 'deployLabels', 'capstan',
  'containerName', 'hostname', 'privileged', 'capAdd', 'capDrop', 'networkMode', 'pid', 'ipc', 'devices', 'securityOpt',
  'sysctls', 'ulimits', 'tmpfs', 'readOnly', 'shmSizeBytes', 'init', 'tty', 'stdinOpen', 'extraHosts', 'dns', 'logging',
  'platform', 'runtime', 'networkAliases', 'mode', 'swarm',
];

const NAMES: Partial<Record<Key, string>> = {
  workingDir: 'working_dir',
  stopSignal: 'stop_signal',
  stopGracePeriodMs: 'stop_grace_period',
  dependsOn: 'depends_on',
  deployLabels: 'deploy.labels',
  resources: 'deploy.resources',
  capstan: 'x-capstan',
  containerName: 'container_name',
  capAdd: 'cap_add',
  capDrop: 'cap_drop',
  networkMode: 'network_mode',
  securityOpt: 'security_opt',
  readOnly: 'read_only',
  shmSizeBytes: 'shm_size',
  stdinOpen: 'stdin_open',
  extraHosts: 'extra_hosts',
  networkAliases: 'networks.aliases',
  mode: 'deploy.mode',
  swarm: 'deploy placement, endpoint_mode, restart_policy or reservations',
};

/**
 * e.g. ["image example/api:1.4.1 → 1.4.2", "env changed: DB_URL, added: DEBUG"]; empty when equal (replicas are not part of a spec change).
 * `stackDir` (the stack file's directory) shows relative bind sources as the manifest wrote them (`./conf/nginx.conf`).
 */
export function describeSpecChange(before: ServiceSpec, after: ServiceSpec, stackDir = ''): string[] {
  const reasons: string[] = [];
  for (const key of KEYS) {
    if (canonicalJson(before[key]) === canonicalJson(after[key])) continue;
    // A built image's tag follows its build inputs, which the build line names.
    if (key === 'image' && after.build !== undefined) continue;
    if (key === 'build') reasons.push(describeBuildChange(before, after));
    else if (key === 'secrets' || key === 'configs') reasons.push(...describeFilesChange(key === 'secrets' ? 'secret' : 'config', before[key] ?? [], after[key] ?? []));
    else if (key === 'image') reasons.push(`image ${describeImageChange(before.image, after.image)}`);
    else if (key === 'environment') reasons.push(describeEnvChange(before.environment, after.environment));
    else if (key === 'volumes') reasons.push(...describeMountsChange(before.volumes, after.volumes, stackDir));
    else reasons.push(`${NAMES[key] ?? key} changed`);
  }
  return reasons;
}

/** `example/api:1.4.1 → 1.4.2` when only the tag moved, else both references in full. */
export function describeImageChange(before: string, after: string): string {
  const a = splitTag(before);
  const b = splitTag(after);
  return a.repo === b.repo ? `${before} → ${b.tag}` : `${before} → ${after}`;
}

function splitTag(image: string): { repo: string; tag: string } {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { repo: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repo: image, tag: 'latest' };
}

function describeEnvChange(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): string {
  const changed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const k of Object.keys(after).sort()) {
    if (!(k in before)) added.push(k);
    else if (before[k] !== after[k]) changed.push(k);
  }
  for (const k of Object.keys(before).sort()) if (!(k in after)) removed.push(k);
  const parts = [
    changed.length > 0 ? `changed: ${changed.join(', ')}` : '',
    added.length > 0 ? `added: ${added.join(', ')}` : '',
    removed.length > 0 ? `removed: ${removed.join(', ')}` : '',
  ].filter((p) => p !== '');
  return `env ${parts.join('; ')}`;
}

/** `build shop-web:1f2e3d4c5b6a (context changed, args changed: VERSION)`; arg values are not shown. */
function describeBuildChange(before: ServiceSpec, after: ServiceSpec): string {
  const a: BuildSpec | undefined = before.build;
  const b: BuildSpec | undefined = after.build;
  if (b === undefined) return 'no longer built';
  if (a === undefined) return `build ${after.image} (was image ${before.image})`;
  const what: string[] = [];
  if (a.context !== b.context) what.push(`context ${a.context} → ${b.context}`);
  else if (a.contextId !== b.contextId) what.push('context changed');
  if (a.dockerfile !== b.dockerfile || a.dockerfileId !== b.dockerfileId || a.dockerfileInline !== b.dockerfileInline) what.push('Dockerfile changed');
  const args = changedKeys(a.args, b.args);
  if (args.length > 0) what.push(`args changed: ${args.join(', ')}`);
  if (a.target !== b.target) what.push(`target ${a.target ?? '(last stage)'} → ${b.target ?? '(last stage)'}`);
  if (canonicalJson(a.labels) !== canonicalJson(b.labels)) what.push('labels changed');
  if (a.alsoTag !== b.alsoTag) what.push(`tag ${a.alsoTag ?? '(none)'} → ${b.alsoTag ?? '(none)'}`);
  return `build ${after.image}${what.length > 0 ? ` (${what.join(', ')})` : ''}`;
}

/**
 * `bind ./conf/nginx.conf content changed` for tracked sources at a new Git
 * id, and what moved where for binds made before tracked and data sources
 * were told apart; any other difference is `volumes changed`.
 */
function describeMountsChange(before: readonly MountSpec[], after: readonly MountSpec[], stackDir: string): string[] {
  const out: string[] = [];
  let other = before.length !== after.length;
  after.forEach((m, i) => {
    const was = before[i];
    if (was === undefined || canonicalJson(was) === canonicalJson(m)) return;
    const sameBind = m.type === 'bind' && was.type === 'bind' && m.relative && was.relative && m.source === was.source && m.target === was.target;
    const shown = `bind ${asWritten(m.source, stackDir)}`;
    if (sameBind && m.content !== undefined && was.content !== undefined) out.push(`${shown} content changed`);
    else if (sameBind && was.content === undefined && was.persistent === undefined) out.push(m.persistent === true ? `${shown} now persists in the data directory` : `${shown} now mounted read-only from the revision`);
    else if (sameBind && m.content !== undefined) out.push(`${shown} is now tracked by Git`);
    else if (sameBind && m.persistent === true) out.push(`${shown} is no longer tracked by Git`);
    else other = true;
  });
  return other || out.length === 0 ? [...out, 'volumes changed'] : out;
}

/** A repository path relative to the stack file's directory, as a manifest writes it. */
function asWritten(repoPath: string, stackDir: string): string {
  const rel = posix.relative(stackDir === '' ? '.' : stackDir, repoPath) || '.';
  return rel.startsWith('..') ? rel : `./${rel}`;
}

function changedKeys(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

/** `secret db_password content changed`, `config nginx added`: by name, never by value. */
function describeFilesChange(kind: 'secret' | 'config', before: readonly MountedFile[], after: readonly MountedFile[]): string[] {
  const out: string[] = [];
  const old = new Map(before.map((f) => [f.name, f]));
  for (const f of after) {
    const was = old.get(f.name);
    if (was === undefined) out.push(`${kind} ${f.name} added`);
    else if (was.digest !== f.digest || canonicalJson(was.source) !== canonicalJson(f.source)) out.push(`${kind} ${f.name} content changed`);
    else if (canonicalJson(was) !== canonicalJson(f)) out.push(`${kind} ${f.name} target, owner or mode changed`);
  }
  const now = new Set(after.map((f) => f.name));
  for (const f of before) if (!now.has(f.name)) out.push(`${kind} ${f.name} removed`);
  return out.length > 0 ? out : [`${kind}s changed`];
}
