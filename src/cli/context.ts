// What every command that talks to Git or Docker needs, built from settings.
// The Docker backend is created lazily: dockerode is heavy to import, and
// `validate` or `plan` errors should not pay for it.

import { resolve as resolvePath } from 'node:path';
import type { RolloutSupport } from '../apply/rollout.js';
import { fileHeldRollouts, heldRolloutsFile } from '../apply/held-rollouts.js';
import { fileRolloutStore, rolloutsDir } from '../apply/rollout-store.js';
import { NO_TRAFFIC } from '../apply/traffic.js';
import { dockerPort } from '../apply/docker-port.js';
import type { AnyBackend } from '../apply/port.js';
import { Prober, type ProberOptions, type ProbeTracker } from '../health/prober.js';
import { runProbe, type ExecClient } from '../health/probes.js';
import { allowedEnvironment, requireRepo, type Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { DesiredLoader } from '../reconciler/desired-source.js';
import { offThreadLoader } from '../reconciler/off-thread.js';
import { readOperatorPolicy, resolveHostPath } from '../config/policy-file.js';
import type { PassContext } from '../reconciler/pass.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { openSource } from '../source/git-source.js';
import { dockerCredentials, engineAuthFor } from '../images/credentials.js';
import { DigestChecker } from '../images/digest-check.js';
import { RegistryClient } from '../images/registry.js';

export async function createBackend(settings: Settings, logger: Logger): Promise<AnyBackend> {
  if (settings.backend === 'swarm') {
    const { createSwarmBackend } = await import('../apply/swarm-port.js');
    // `--with-registry-auth`: each service carries the pull credentials Docker's client config has for its image.
    const credentials = dockerCredentials();
    return createSwarmBackend({ registryAuth: (image) => engineAuthFor(credentials, image) });
  }
  const { createDockerBackend } = await import('../backends/docker/docker-backend.js');
  return dockerPort(await createDockerBackend({ logger, subnetPool: settings.subnetPool }));
}

/** `offThread`: validate commits in a worker thread (the daemon, whose API and healing must not stop for a big commit). */
export async function createPassContext(settings: Settings, logger: Logger, opts: { offThread?: boolean } = {}): Promise<PassContext> {
  const source = openSource({
    repo: requireRepo(settings),
    branch: settings.branch,
    dataDir: settings.dataDir,
    credentials: credentialsFromEnv(process.env),
    logger,
  });
  const env = allowedEnvironment(settings, process.env);
  const operatorPolicy = await readOperatorPolicy(settings.policy);
  const desired = new DesiredLoader({ source, path: settings.path, env, profiles: settings.profiles, secretsDir: settings.secretsDir, operatorPolicy, resolveHostPath, backend: settings.backend, logger, ...(opts.offThread === true ? { validate: offThreadLoader() } : {}) });
  const backend = await createBackend(settings, logger);
  const rollout = rolloutSupport(settings, new Prober({ now: Date.now, run: probeRunner(), onFailed: () => undefined }));
  const contents = { env, ageKeyFile: settings.ageKeyFile };
  const digests = new DigestChecker(new RegistryClient({ credentials: dockerCredentials() }), logger);
  return { source, backend, desired, instance: settings.instance, parallelism: settings.parallelism, publishPorts: routerServesPorts(settings) === false, contents, rollout, logger, digests, dataDir: resolvePath(settings.dataDir) };
}

/** When Capstan runs in a container, says so if the engine cannot see the data dir at the same path (relative binds live there). */
export async function checkDataDir(settings: Settings, logger: Logger): Promise<void> {
  const [{ connectDocker }, { checkDataDirVisible }] = await Promise.all([import('../backends/docker/connect.js'), import('../backends/docker/self-container.js')]);
  await checkDataDirVisible((await connectDocker()).docker, resolvePath(settings.dataDir), logger);
}

/** Rolling updates as a one-shot command runs them: no router to tell, readiness from `probes`. The daemon swaps in its router and prober. */
export function rolloutSupport(settings: Settings, probes: ProbeTracker): RolloutSupport {
  return {
    traffic: NO_TRAFFIC,
    probes,
    held: fileHeldRollouts(heldRolloutsFile(settings.dataDir, settings.instance)),
    store: fileRolloutStore(rolloutsDir(settings.dataDir, settings.instance)),
    now: Date.now,
  };
}

/** Runs x-capstan.probe checks; exec probes reach the engine through a client made on first use. */
export function probeRunner(): ProberOptions['run'] {
  let docker: Promise<ExecClient> | undefined;
  const client = (): Promise<ExecClient> => (docker ??= import('../backends/docker/connect.js').then((m) => m.connectDocker()).then((c) => c.docker));
  return (r) => runProbe(r.probe.check, { containerId: r.containerId, ip: r.ip }, r.probe.timeoutMs, client);
}

/** With a router (a process or a container), it serves published TCP ports; with none, containers publish them. */
export function routerServesPorts(settings: Settings): boolean {
  return settings.router !== 'none';
}
