// Names Capstan gives containers (DESIGN §3), defined once here: validation
// checks them for collisions across every stack of a commit, and the
// backends create containers under them.

/** `<stack>-<service>-<n>`, as Compose names containers; never carries the instance. */
export function containerName(stack: string, service: string, number: number): string {
  return `${stack}-${service}-${number}`;
}

/** The name of replica `number`: the manifest's `container_name` (only allowed with one replica), else `<stack>-<service>-<n>`. */
export function replicaName(service: { stack: string; name: string; spec: { containerName: string | undefined } }, number: number): string {
  return service.spec.containerName ?? containerName(service.stack, service.name, number);
}

/** The name a start-first update gives the new replica while the old one still holds the replica's name. */
export function twinName(service: { stack: string; name: string; spec: { containerName: string | undefined } }, number: number): string {
  return `${replicaName(service, number)}-next`;
}

/** The name of canary `number` of a service: beside the replicas, never one of their names. */
export function canaryName(service: { stack: string; name: string; spec: { containerName: string | undefined } }, number: number): string {
  return `${replicaName(service, number)}-canary`;
}

/** The router container `--router container` runs is `capstan-router-<instance>`: no replica may take a name of that form. */
export const ROUTER_NAME_PREFIX = 'capstan-router-';
