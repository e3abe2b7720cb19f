// Label keys of DESIGN §3. The compose.* ones make `docker compose ps` show
// Capstan's containers; the io.capstan.* ones are how Capstan owns objects.

import { createHash } from 'node:crypto';

export const LABEL = {
  composeProject: 'com.docker.compose.project',
  composeService: 'com.docker.compose.service',
  composeNumber: 'com.docker.compose.container-number',
  composeConfigHash: 'com.docker.compose.config-hash',
  composeNetwork: 'com.docker.compose.network',
  composeVolume: 'com.docker.compose.volume',
  instance: 'io.capstan.instance',
  stack: 'io.capstan.stack',
  service: 'io.capstan.service',
  specHash: 'io.capstan.spec-hash',
  revision: 'io.capstan.revision',
  slot: 'io.capstan.slot',
  /** `router` on the container `--router container` runs: Capstan's own, but no stack's replica (never planned, never pruned). */
  role: 'io.capstan.role',
  /** The repo digest (`sha256:…`) of the image the container was made from; absent for images only built locally. */
  imageDigest: 'io.capstan.image-digest',
  /** On an anonymous volume: the container path it is mounted at (with stack, service and slot, it is the volume's identity). */
  anonymousVolume: 'io.capstan.anonymous-volume',
  /** The normalized spec as JSON: explains a change ("image a → b") and lets a rollback rebuild the previous version from what runs. */
  spec: 'io.capstan.spec',
  /** On a Swarm secret or config: the top-level `secrets:`/`configs:` key whose content it holds. */
  file: 'io.capstan.file',
} as const;

export const ROUTER_ROLE = 'router';

export { canaryName, containerName, replicaName, twinName } from '../manifests/names.js';

/**
 * An anonymous volume (`- /app/node_modules`) belongs to a replica slot, as
 * Compose hands it from a container to its replacement: `<stack>_<service>-<n>_<12 hex of the path>`,
 * so the container recreated in slot n finds the same one.
 */
export function anonymousVolumeName(stack: string, service: string, number: number, target: string): string {
  return `${stack}_${service}-${number}_${createHash('sha256').update(target).digest('hex').slice(0, 12)}`;
}
