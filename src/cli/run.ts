// `capstan run`: the daemon. Waits to lead its instance (one leader per
// instance: the data-dir lock, and with --engine-lease the lease on the
// engine), then builds what every command needs, starts the router (which
// outlives the daemon), and hands both to the daemon's wiring
// (reconciler/daemon.ts); SIGTERM/SIGINT let the passes in flight finish,
// close the HTTP API and exit 0.

import { setFlagsFromString } from 'node:v8';
import { connectDocker } from '../backends/docker/connect.js';
import { requireRepo, type Settings } from '../config/settings.js';
import { LeadershipError } from '../errors.js';
import { dockerCredentials } from '../images/credentials.js';
import { RegistryClient } from '../images/registry.js';
import { ImageUpdater } from '../images/updater.js';
import { becomeLeader, leaderLockPath } from '../leader/election.js';
import { fileLock, flockAvailable } from '../leader/file-lock.js';
import type { LeaderLock } from '../leader/lock.js';
import { socketLock } from '../leader/socket-lock.js';
import type { Logger } from '../logging/logger.js';
import { startDaemon } from '../reconciler/daemon.js';
import { checkListenToken, resolveApiToken, type ApiToken } from '../server/api-token.js';
import { commitUrlOf, DashboardFeed } from '../server/dashboard/feed.js';
import { startStandbyServer } from '../server/standby.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { warnWithoutPolicy } from '../config/policy-file.js';
import { checkDataDir, createPassContext, probeRunner } from './context.js';
import { createNotifier, NOTIFY_DRAIN_MS } from './notifier.js';
import { startRouterSupervisor } from './router-mode.js';
import { createStatusReporter } from './status-reporter.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  // V8 sized for memory rather than speed, in the daemon only (the router is
  // its own process, with Node's defaults): by default V8 lets the garbage of
  // 100 lanes at work pile up to ~100 MB of heap before it collects, and the
  // RSS follows (bench/scale.ts). Read at each collection, so it takes effect
  // set here; Node refuses it in NODE_OPTIONS.
  setFlagsFromString('--optimize-for-size');
  // First: a daemon that may not open its API must neither wait to lead nor touch the engine.
  const token = resolveApiToken(settings);
  checkListenToken(settings.listen, token);
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stopping after the passes in flight');
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  const leadership = await becomeLeader({
    instance: settings.instance,
    locks: await leaderLocks(settings, logger),
    logger,
    signal: stop.signal,
    whileWaiting: (reason) => startStandbyServer(settings.listen, reason),
  });
  if (leadership === undefined) {
    logger.info('stopped while waiting to lead');
    return 0;
  }
  let lost: string | undefined;
  void leadership.lost.then((reason) => {
    lost = reason;
    logger.error({ reason }, `lost the lead of instance ${settings.instance}: ${reason}; stopping after the passes in flight`);
    stop.abort();
  });
  try {
    await lead(settings, logger, token, stop.signal);
  } finally {
    await leadership.release();
  }
  if (lost !== undefined) throw new LeadershipError(`lost the lead of instance ${settings.instance}: ${lost}`, 'another operator may lead it now; start this one again and it waits for its turn');
  return 0;
}

/** The daemon proper, once this operator leads its instance; returns when `stopped` aborts and everything has wound down. */
async function lead(settings: Settings, logger: Logger, token: ApiToken, stopped: AbortSignal): Promise<void> {
  // Commits validate in a worker thread: the API, the events and the lanes never stop for a big one.
  const created = await createPassContext(settings, logger, { offThread: true });
  await checkDataDir(settings, logger);
  warnWithoutPolicy(settings.policy, logger);
  // The dashboard's feed hears the progress of rollouts and builds (where `apply` draws lines).
  const feed = new DashboardFeed({ repo: created.source.display, commitUrl: commitUrlOf(created.source.display) });
  const base = { ...created, progress: feed };
  const status = createStatusReporter(settings, logger);
  const notifier = createNotifier(settings, logger);
  // On a swarm, Swarm publishes ports (its routing mesh, or each task's node in `mode: host`): no router of ours.
  const router = created.backend.kind === 'swarm' ? undefined : await startRouterSupervisor(settings, logger);
  const daemon = await startDaemon({ settings, logger, base, status, router, probeRun: probeRunner(), token, feed, notify: (event) => notifier.emit(event), imageUpdater: imageUpdater(settings, logger) });
  if (stopped.aborted) daemon.stop('stopping');
  else stopped.addEventListener('abort', () => daemon.stop('stopping'), { once: true });
  await daemon.stopped;
  // The router keeps serving across operator restarts: it is not stopped with the daemon.
  router?.stop();
  // A deploy's last status should not be lost to a restart; a forge that does not answer must not hold the shutdown long either.
  await notifier.drain(NOTIFY_DRAIN_MS);
  logger.info('stopped');
}

/** The data-dir lock always; with --engine-lease, the lease container on the engine after it. */
async function leaderLocks(settings: Settings, logger: Logger): Promise<LeaderLock[]> {
  const path = leaderLockPath(settings.dataDir, settings.instance);
  const flock = await flockAvailable();
  if (!flock) logger.warn({ lock: path }, 'no flock program here (util-linux, or BusyBox with the applet): the leader lock is an abstract socket, which operators in other network namespaces sharing this data dir do not see');
  const locks = [flock ? fileLock(path) : socketLock(path)];
  if (!settings.engineLease) return locks;
  const { engineLease } = await import('../backends/docker/lease.js');
  const { docker, endpoint } = await connectDocker();
  return [...locks, engineLease(docker, endpoint, settings.instance, settings.leaseImage)];
}

function imageUpdater(settings: Settings, logger: Logger): ImageUpdater {
  const credentials = dockerCredentials();
  return new ImageUpdater({
    repo: requireRepo(settings),
    branch: settings.branch,
    targetBranch: settings.imageUpdateBranch ?? settings.branch,
    path: settings.path,
    dataDir: settings.dataDir,
    credentials: credentialsFromEnv(process.env),
    registry: new RegistryClient({ credentials }),
    author: settings.gitAuthor,
    logger: logger.child({ component: 'image-update' }),
    now: Date.now,
  });
}

