// Says in words how two versions of a service spec differ, for the cause of a
// recreate. Values of environment variables are masked: a plan is posted in
// pull requests and logs, and env often carries secrets.

import { canonicalJson } from '../desired/spec-hash.js';
import type { ServiceSpec } from '../manifests/model.js';

type Key = keyof ServiceSpec;

// Order of the reasons in a cause: the ones a reviewer cares about first.
const KEYS: readonly Key[] = [
  'image', 'command', 'entrypoint', 'environment', 'ports', 'expose', 'volumes', 'networks', 'labels',
  'healthcheck', 'restart', 'user', 'workingDir', 'stopSignal', 'stopGracePeriodMs', 'dependsOn',
  'resources', 'deployLabels', 'capstan',
  'containerName', 'hostname', 'privileged', 'capAdd', 'capDrop', 'networkMode', 'pid', 'ipc', 'devices', 'securityOpt',
  'sysctls', 'ulimits', 'tmpfs', 'readOnly', 'shmSizeBytes', 'init', 'tty', 'stdinOpen', 'extraHosts', 'dns', 'logging',
  'platform', 'runtime', 'networkAliases', 'mode',
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
};

/** e.g. ["image example/api:1.4.1 → 1.4.2", "env changed: DB_URL, added: DEBUG"]; empty when equal (replicas are not part of a spec change). */
export function describeSpecChange(before: ServiceSpec, after: ServiceSpec): string[] {
  const reasons: string[] = [];
  for (const key of KEYS) {
    if (canonicalJson(before[key]) === canonicalJson(after[key])) continue;
    if (key === 'image') reasons.push(`image ${describeImageChange(before.image, after.image)}`);
    else if (key === 'environment') reasons.push(describeEnvChange(before.environment, after.environment));
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
