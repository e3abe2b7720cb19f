// `capstan run`: the daemon. Polls the branch every --interval, one pass at
// a time; webhooks, /api/sync, the file watch and --resync trigger passes in
// between (src/cli/run-api.ts), and Docker events for this instance's
// containers trigger one at once (self-healing). SIGTERM/SIGINT finish the
// pass in flight, close the HTTP API and exit 0.

import { connectDocker } from '../backends/docker/connect.js';
import { warnWithoutPolicy } from '../config/policy-file.js';
import { dockerEventsOpener, watchEngineEvents } from '../backends/docker/events.js';
import { logTail } from '../backends/docker/logs.js';
import { requireRepo, type Settings } from '../config/settings.js';
import { dockerCredentials } from '../images/credentials.js';
import { RegistryClient } from '../images/registry.js';
import { ImageUpdater } from '../images/updater.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { decodeSpecLabel } from '../desired/spec-label.js';
import { Prober, type ProbedReplica } from '../health/prober.js';
import type { Logger } from '../logging/logger.js';
import { Healer } from '../reconciler/healing.js';
import { ReconcileLoop } from '../reconciler/loop.js';
import { WhileValidating } from '../reconciler/while-validating.js';
import { StackBackoff } from '../reconciler/stack-backoff.js';
import type { PassContext, PassResult } from '../reconciler/pass.js';
import { checkListenToken, resolveApiToken, type ApiToken } from '../server/api-token.js';
import { commitUrlOf, DashboardFeed } from '../server/dashboard/feed.js';
import { startTrafficSampler } from '../server/dashboard/sampler.js';
import { countersFromRouterStats } from '../server/dashboard/traffic.js';
import type { RestartReason } from '../health/metrics.js';
import { countContainers, DaemonMetrics } from '../server/metrics.js';
import { isReadyReplica } from '../status/service-health.js';
import { readinessGate } from '../apply/readiness.js';
import type { Traffic } from '../apply/traffic.js';
import { checkDataDir, createPassContext, probeRunner } from './context.js';
import { certificateHandover } from './route-certificates.js';
import { RoutedTraffic } from './routed-traffic.js';
import { startRouterSupervisor } from './router-mode.js';
import type { RouterClient } from '../router/client.js';
import type { ObservedState } from '../observed/model.js';
import { startDaemonApi } from './run-api.js';
import { createStatusReporter } from './status-reporter.js';
import { createNotifier } from './notifier.js';
import { becomeLeader, leaderLockPath } from '../leader/election.js';
import { fileLock, flockAvailable } from '../leader/file-lock.js';
import { socketLock } from '../leader/socket-lock.js';
import type { LeaderLock } from '../leader/lock.js';
import { LeadershipError } from '../errors.js';
import { startStandbyServer } from '../server/standby.js';
import { DeployEvents } from '../events/deploy-events.js';
import { crashLoopsFromStatus, outcomesFromStatus } from '../events/from-status.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  // First: a daemon that may not open its API must neither wait to lead nor touch the engine.
  const token = resolveApiToken(settings);
  checkListenToken(settings.listen, token);
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stopping after the pass in flight');
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
    logger.error({ reason }, `lost the lead of instance ${settings.instance}: ${reason}; stopping after the pass in flight`);
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

/** The daemon proper, once this operator leads its instance; returns when `stopped` aborts. */
async function lead(settings: Settings, logger: Logger, token: ApiToken, stopped: AbortSignal): Promise<void> {
  const created = await createPassContext(settings, logger, { offThread: true });
  // The dashboard's feed hears the progress of rollouts and builds (where `apply` draws lines).
  const feed = new DashboardFeed({ repo: created.source.display, commitUrl: commitUrlOf(created.source.display) });
  const base: PassContext = { ...created, progress: feed };

  const docker = connectDocker().then((c) => c.docker);
  await checkDataDir(settings, logger);
  warnWithoutPolicy(settings.policy, logger);
  const metrics = new DaemonMetrics(async () => countContainers(await base.backend.observe(base.instance)));
  metrics.heal.onRestart = (stack, service, reason) => feed.event({ time: new Date().toISOString(), kind: 'heal', stack, service, message: HEALED[reason], bad: reason === 'crashed' || reason === 'liveness' });
  const prober = new Prober({
    now: () => Date.now(),
    run: probeRunner(),
    onProbeFailure: () => metrics.heal.probeFailed(),
    onReadinessChange: (r, ready) => {
      // The table follows at once, even while a long pass (a rollout) holds the loop.
      void routed.refresh();
      loop.trigger(`probe: ${r.name} is ${ready ? 'ready' : 'not ready'}`);
    },
    onFailed: (r, health) => {
      // Liveness: it was ready and failed failure_threshold probes in a row. Removing it lets the next pass recreate the slot.
      logger.warn({ stack: r.stack, service: r.service, container: r.name, output: health.lastOutput }, `liveness: ${r.name} failed ${health.failures} probes in a row (${health.lastOutput}); replacing it`);
      healer.noteLivenessFailure(r.name);
      base.backend.removeContainer(r.containerId)
        .catch((err: unknown) => logger.error({ err, container: r.name }, `cannot remove ${r.name}`))
        .finally(() => loop.trigger(`liveness failure of ${r.name}`));
    },
  });
  const healer = new Healer({
    logger,
    now: () => Date.now(),
    trigger: (reason) => loop.trigger(reason),
    logTail: async (id) => logTail(await docker, id, 5),
    metrics: metrics.heal,
    isReady: (c) => isReadyReplica(c) && !prober.isNotReady(c.id),
  });
  // The one source of deploy events: fed when a pass starts applying to stacks, and with the status documents it ends with.
  const notifier = createNotifier(settings, logger);
  const deploys = new DeployEvents((event) => notifier.emit(event));
  const status = createStatusReporter(settings, base, logger, async () => ({ probes: prober.verdicts(), crashLoops: await healer.crashLoops() }), (stacks, revert) => deploys.passEnded(outcomesFromStatus(stacks, revert), crashLoopsFromStatus(stacks)));
  const router = await startRouterSupervisor(settings, logger);
  if (router !== undefined) metrics.routerText = () => router.client.metrics();
  // The replicas of the newest snapshot, to tell the router's backends apart by service and revision.
  let replicas: ObservedState['containers'] = [];
  const stopSampler = router === undefined ? undefined : startTrafficSampler(feed, { sample: async () => countersFromRouterStats((await router.client.stats()).backends, replicas) });
  // What the router serves from before this process: those replicas were ready, and keep their traffic until a probe says otherwise.
  let served: Set<string> | undefined = router === undefined ? undefined : await servedBackends(router.client);
  const routed = new RoutedTraffic({
    httpPort: settings.httpPort,
    notReady: (id) => prober.isNotReady(id),
    push: router === undefined ? undefined : async (table) => void (await router.client.pushTable(table)),
    drain: router === undefined ? undefined : async (id, ms) => void (await router.client.drain(id, ms)),
    certificates: router === undefined ? undefined : certificateHandover(router.client, base.contents ?? { env: {}, ageKeyFile: undefined }, (revision, id) => base.source.readBlob(revision, id)),
    logger,
  });
  // A replica on its way out is no longer probed: its liveness must not race the stop (or remove it from under the rollout).
  const traffic: Traffic = { admit: (r) => routed.admit(r), renamed: (id, name) => routed.renamed(id, name), retire: (id, ms) => { prober.forget(id); return routed.retire(id, ms); } };
  // Every pass of the daemon, whatever triggered it, feeds the healer, the prober and the routing table.
  const ctx: PassContext = {
    ...base,
    // A big commit validates in the background; passes meanwhile heal what runs.
    desired: new WhileValidating(base.desired, { graceMs: 250, onSettled: (revision) => loop.trigger(`validated ${revision.slice(0, 7)}`), logger }),
    rollout: {
      ...base.rollout,
      traffic,
      readiness: readinessGate({ backend: base.backend, probes: prober, now: Date.now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) }),
      // A rollout stops between batches for a newer commit (the next pass takes it from there) or a shutdown.
      interrupted: async (revision) => {
        if (stopped.aborted) return 'the daemon is stopping';
        const head = await base.source.resolve().catch(() => revision);
        return head === revision ? undefined : `a newer commit (${head.slice(0, 7)}) arrived`;
      },
    },
    healing: healer.input,
    backoff: new StackBackoff(logger),
    onPlanned: (planned) => {
      replicas = planned.observed.containers;
      prober.sync(probedReplicas(planned), presumedReady(planned.observed, served));
      served = undefined;
      void routed.planned(planned.desired, planned.observed);
      healer.planned(planned);
      deploys.started(planned.desired.revision, new Set(planned.plan.operations.map((op) => op.stack)));
    },
  };

  const updater = imageUpdater(settings, logger);
  const loop: ReconcileLoop = new ReconcileLoop({
    intervalMs: settings.intervalMs,
    logger,
    pass: () => api.pass(),
    onPass: (result) => {
      healer.afterPass(result);
      if (result instanceof Error) return;
      // Never holds the loop: tags are listed and the commit pushed beside it; a commit to --branch is the next pass's.
      if (updater.due(result.desired).length > 0) {
        void updater.scan(result.desired).then((scan) => {
          if (scan.commit !== undefined && settings.imageUpdateBranch === undefined) loop.trigger(`image update ${scan.commit.slice(0, 7)}`);
        });
      }
      if (result.applied > 0) {
        logger.info({ revision: result.revision, applied: result.applied }, `converged to ${result.revision.slice(0, 7)}`);
        // The snapshot predates what was just applied: look once more so new replicas are probed and reported.
        loop.trigger('observe what the last pass applied');
      }
    },
  });
  const api = await startDaemonApi({ settings, ctx, logger, trigger: (reason) => loop.trigger(reason), endpoints: () => routed.table(), status, metrics, token, feed });
  const events = watchEngineEvents({
    open: dockerEventsOpener(settings.instance),
    onEvent: (e) => {
      healer.noteEvent(e.action, e.name, e.time, e.containerId);
      loop.trigger(`${e.action} ${e.name}`);
    },
    onReconnect: () => loop.trigger('events stream reconnected'),
    logger,
    signal: stopped,
  });
  logger.info({ repo: ctx.source.display, branch: settings.branch, instance: settings.instance, intervalMs: settings.intervalMs }, 'capstan running');
  await loop.run(stopped);
  healer.stop();
  prober.stop();
  stopSampler?.();
  await events;
  await routed.settled();
  // The router keeps serving across operator restarts: it is not stopped with the daemon.
  router?.stop();
  await api.stop();
  // A deploy's last status should not be lost to a restart; a forge that does not answer must not hold the shutdown long either.
  await notifier.drain(5000);
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

const HEALED: Record<RestartReason, string> = {
  crashed: 'restarted a replica that crashed',
  stopped: 'restarted a replica that was stopped',
  missing: 'recreated a missing replica',
  drift: 'replaced a replica that drifted from Git',
  liveness: 'replaced a replica that failed its liveness probe',
};

/** `name@ip` of every backend the router's current table lists (empty when it does not answer). */
async function servedBackends(client: RouterClient): Promise<Set<string>> {
  try {
    const table = await client.table();
    return new Set([...table.l4.flatMap((r) => r.backends), ...table.l7.flatMap((r) => r.backends)].map((b) => `${b.id.split(':')[0] ?? ''}@${b.host}`));
  } catch {
    return new Set();
  }
}

function presumedReady(observed: ObservedState, served: ReadonlySet<string> | undefined): Set<string> {
  if (served === undefined) return new Set();
  return new Set(observed.containers.filter((c) => served.has(`${c.name}@${c.ip ?? ''}`)).map((c) => c.id));
}

/**
 * Running replicas whose spec declares x-capstan.probe. Each is probed as it
 * was made (its spec label): mid-rollout, old replicas must not be judged by
 * the new release's probe.
 */
function probedReplicas(result: Omit<PassResult, 'applied'>): ProbedReplica[] {
  const probes = new Map(result.desired.stacks.flatMap((st) => st.services.map((s) => [`${s.stack}/${s.name}`, s.spec.capstan.probe] as const)));
  return result.observed.containers.flatMap((c) => {
    const own = decodeSpecLabel(c.labels);
    const probe = own === undefined ? probes.get(`${c.stack}/${c.service}`) : own.capstan.probe;
    return probe === undefined || c.state !== 'running' ? [] : [{ containerId: c.id, name: c.name, stack: c.stack, service: c.service, ip: c.ip, probe }];
  });
}
