// Label keys of DESIGN §3. The compose.* ones make `docker compose ps` show
// Capstan's containers; the io.capstan.* ones are how Capstan owns objects.

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
  /** The normalized spec as JSON: explains a change ("image a → b") and lets a rollback rebuild the previous version from what runs. */
  spec: 'io.capstan.spec',
} as const;

export const ROUTER_ROLE = 'router';

export { containerName, replicaName, twinName } from '../manifests/names.js';
