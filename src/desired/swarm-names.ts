// What the swarm backend calls a stack's objects in Swarm. Services are
// named as `docker stack deploy` names them, so `docker stack ps` and
// `docker service logs <stack>_<service>` work. Secrets and configs are
// immutable in Swarm, so each content gets its own object, named after its
// digest: a new content is a new name, rolled into the service like any
// other spec change, and the old object is removed once nothing uses it.
// Relative binds of Git-tracked files become configs the same way.

import type { MountedFile, ServiceSpec } from '../manifests/model.js';

export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

/** `<stack>_<service>`, as `docker stack deploy` names services. */
export function swarmServiceName(stack: string, service: string): string {
  return `${stack}_${service}`;
}

/** Swarm refuses names over 64 characters. */
const MAX_NAME = 64;

/** `<stack>_<name>-<12 hex of the content digest>`; the name part is shortened when the whole would be too long. */
export function swarmFileName(stack: string, file: Pick<MountedFile, 'name' | 'digest'>): string {
  const digest = file.digest.replace(/^sha256:/, '').slice(0, 12);
  const head = `${stack}_${file.name}`;
  return `${head.slice(0, MAX_NAME - digest.length - 1)}-${digest}`;
}

/**
 * A service's relative binds of files Git tracks, as the Swarm configs they
 * become (nodes cannot see the operator's checkout): named and rolled by
 * their blob id like a `configs:` file, read from the Git object, mounted
 * read-only at the bind's target.
 */
export function bindConfigs(spec: Pick<ServiceSpec, 'volumes'>): MountedFile[] {
  return spec.volumes.flatMap((m) => (m.type !== 'bind' || !m.relative || m.content === undefined ? [] : [{
    name: `bind.${m.source.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    target: m.target,
    uid: 0,
    gid: 0,
    mode: 0o444,
    source: { kind: 'repo' as const, path: m.source, encryption: undefined },
    digest: m.content,
  }]));
}
