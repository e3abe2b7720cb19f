// What the swarm backend calls a stack's objects in Swarm. Services are
// named as `docker stack deploy` names them, so `docker stack ps` and
// `docker service logs <stack>_<service>` work. Secrets and configs are
// immutable in Swarm, so each content gets its own object, named after its
// digest: a new content is a new name, rolled into the service like any
// other spec change, and the old object is removed once nothing uses it.

import type { MountedFile } from '../manifests/model.js';

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
