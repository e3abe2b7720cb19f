// What every command that talks to Git or Docker needs, built from settings.
// The Docker backend is created lazily: dockerode is heavy to import, and
// `validate` or `plan` errors should not pay for it.

import type { Backend } from '../backends/backend.js';
import { allowedEnvironment, requireRepo, type Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { DesiredLoader } from '../reconciler/desired-source.js';
import type { PassContext } from '../reconciler/pass.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { openSource } from '../source/git-source.js';

export async function createBackend(settings: Settings, logger: Logger): Promise<Backend> {
  const { createDockerBackend } = await import('../backends/docker/docker-backend.js');
  if (settings.backend === 'swarm') logger.warn('the swarm backend is not built yet; using the docker backend');
  return createDockerBackend({ logger });
}

export async function createPassContext(settings: Settings, logger: Logger): Promise<PassContext> {
  const source = openSource({
    repo: requireRepo(settings),
    branch: settings.branch,
    dataDir: settings.dataDir,
    credentials: credentialsFromEnv(process.env),
    logger,
  });
  const desired = new DesiredLoader({ source, path: settings.path, env: allowedEnvironment(settings, process.env), profiles: settings.profiles, logger });
  const backend = await createBackend(settings, logger);
  return { source, backend, desired, instance: settings.instance, parallelism: settings.parallelism, publishPorts: routerServesPorts(settings) === false, logger };
}

/** With a router (a process or a container), it serves published TCP ports; with none, containers publish them. */
export function routerServesPorts(settings: Settings): boolean {
  return settings.router !== 'none';
}
