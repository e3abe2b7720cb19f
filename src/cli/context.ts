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
  const env = allowedEnvironment(settings, process.env);
  const desired = new DesiredLoader({ source, path: settings.path, env, profiles: settings.profiles, secretsDir: settings.secretsDir, logger });
  const backend = await createBackend(settings, logger);
  const contents = { env, ageKeyFile: settings.ageKeyFile };
  return { source, backend, desired, instance: settings.instance, parallelism: settings.parallelism, publishPorts: routerServesPorts(settings) === false, contents, logger };
}

/** Only `--router process` serves published ports today; `container` is not implemented and falls back to containers publishing. */
export function routerServesPorts(settings: Settings): boolean {
  return settings.router === 'process';
}
