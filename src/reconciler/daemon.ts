// `capstan run`'s moving parts, wired in one place and in dependency order:
// the engine bound, the prober and the healer, the routing table, status, the
// lanes (one per stack), the view of Git that wakes them, then the outward
// side — the HTTP API, the engine's events, the file watch and the resync.
// Everything that needs to wake a lane is handed the Wakeup made first, so no
// part refers to one made after it.
//
// Triggers: a poll every --interval, webhooks, POST /api/sync, the file watch
// and --resync refresh the view of Git, which wakes the lanes whose stacks
// changed (resync wakes them all); engine events and probe verdicts wake the
// lane of their stack. SIGTERM stops new passes and waits for those in flight.

import { logTail } from '../backends/docker/logs.js';
import { connectDocker } from '../backends/docker/connect.js';
import { dockerEventsOpener, watchEngineEvents, type EngineEvent } from '../backends/docker/events.js';
import type { AnyBackend } from '../apply/port.js';
import { parseNodeEvent, swarmNodeEventsOpener } from '../backends/swarm/events.js';
import { dockerPort } from '../apply/docker-port.js';
import { observedStacks } from '../observed/stacks.js';
import { limitBackend, Semaphore } from '../backends/limited.js';
import { fileRolloutStore, rolloutsDir } from '../apply/rollout-store.js';
import type { Traffic } from '../apply/traffic.js';
import type { Settings } from '../config/settings.js';
import { CapstanError, DataDirWriteError, DockerUnavailableError, ManifestsInvalidError } from '../errors.js';
import { Prober, type ProberOptions } from '../health/prober.js';
import { isReady } from '../health/readiness.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedState } from '../observed/model.js';
import { renderJson, renderJsonInvalid } from '../plan/render.js';
import type { RouterClient } from '../router/client.js';
import { buildServer, listen } from '../server/app.js';
import { countContainers, DaemonMetrics } from '../server/metrics.js';
import { isRemoteRepo } from '../source/repo-identity.js';
import { watchLocalRef } from '../source/watch.js';
import { isReady as stackIsReady } from '../status/model.js';
import type { StatusReporter } from '../status/reporter.js';
import { DaemonState } from './daemon-state.js';
import type { DesiredState } from '../desired/model.js';
import { DeployEvents } from '../events/deploy-events.js';
import type { DeployEvent } from '../events/model.js';
import type { ImageUpdater } from '../images/updater.js';
import { StackBackoff } from './stack-backoff.js';
import type { RestartReason } from '../health/metrics.js';
import type { ApiToken } from '../server/api-token.js';
import { dashboardAssetsDir } from '../server/dashboard/assets.js';
import type { DashboardFeed } from '../server/dashboard/feed.js';
import { opsEventOf } from '../server/dashboard/ops-events.js';
import { startTrafficSampler } from '../server/dashboard/sampler.js';
import { countersFromRouter } from '../server/dashboard/traffic.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { readStatusVersions } from '../status/history-reader.js';
import { deploysOf } from '../status/history.js';
import { announcePass } from './deploy-outcome.js';
import { LaneScheduler, REAL_TIMERS, type LaneInfo } from './lanes.js';
import { Autoscaler } from './autoscaler.js';
import { cpuPercent } from '../backends/docker/stats.js';
import { logPassError } from './log-error.js';
import { Outage } from './outage.js';
import { planPass, type PassContext } from './pass.js';
import { startResync } from './resync.js';
import { Revisions } from './revisions.js';
import { applyAnswer, ApplyRequests } from './apply-requests.js';
import { applyTarget, targetMismatch } from './apply-target.js';
import type { ApplyAnswer, ApplyTarget } from '../server/apply-api.js';
import { certificateHandover } from './route-certificates.js';
import { RoutedTraffic } from './routed-traffic.js';
import { RolloutCommands } from './commands.js';
import { releaseAnalysis } from './release-analysis.js';
import { Healer } from './healing.js';
import { newLaneMemory, probedReplicas, runStackPass, type DaemonHooks, type LaneMemory, type LaneOutcome, type StackPassDeps } from './stack-pass.js';
import { isSyncAllowed } from '../config/sync-window.js';

export interface DaemonOptions {
  settings: Settings;
  logger: Logger;
  /** Source, backend and desired loader, as every command builds them. */
  base: PassContext;
  status: StatusReporter;
  /** The router's admin client when one runs (--router process|container). */
  router: { client: RouterClient } | undefined;
  probeRun: ProberOptions['run'];
  /** Resolved (and checked against --listen) before anything starts: see apiTokenFor. */
  token: ApiToken;
  /** The dashboard's live feed: every lane pass's status, events, plan and commit subjects go here. */
  feed: DashboardFeed;
  /** Where deploy events go (commit statuses, webhooks); none: nowhere. */
  notify?: (event: DeployEvent) => void;
  /** Commits newer image tags Git allows (x-capstan.image_update); none: no updates. */
  imageUpdater?: ImageUpdater;
  /** The daemon's clock (tests move it for sync windows). */
  now?: () => number;
}

export interface Daemon {
  /** Where the HTTP API listens (host:port as bound). */
  address: string;
  /** Resolves when the daemon has stopped (after `stop`). */
  stopped: Promise<void>;
  stop(reason: string): void;
}

/**
 * What parts made early ask of parts made later (a probe verdict wakes a lane
 * and refreshes the routing table; a liveness failure is noted by the
 * healer): connected once, after everything exists.
 */
class Signals {
  private targets: { lanes: LaneScheduler; routed: RoutedTraffic; healer: Healer } | undefined;
  connect(targets: { lanes: LaneScheduler; routed: RoutedTraffic; healer: Healer }): void {
    this.targets = targets;
  }
  wake(stack: string, reason: string): void {
    this.targets?.lanes.wake(stack, reason);
  }
  readinessChanged(): void {
    void this.targets?.routed.refresh();
  }
  livenessFailed(name: string): void {
    this.targets?.healer.noteLivenessFailure(name);
  }
  lanes(): LaneInfo[] {
    return this.targets?.lanes.info() ?? [];
  }
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { settings, logger, base, status, feed } = opts;
  const now = opts.now ?? Date.now;
  const instance = settings.instance;
  const signals = new Signals();
  const stop = new AbortController();

  // The engine, bounded for every lane together. On a swarm, Swarm runs the replicas: no prober, healer or routing table of ours.
  const engine = base.backend.kind === 'docker' ? limitBackend(base.backend.engine, new Semaphore(settings.parallelism)) : undefined;
  const backend: AnyBackend = engine === undefined ? base.backend : dockerPort(engine);
  const docker = connectDocker().then((c) => c.docker);
  const metrics = new DaemonMetrics(async () => countContainers(await backend.observe(instance)));
  metrics.heal.onRestart = (stack, service, reason) => feed.event({ time: new Date(now()).toISOString(), kind: 'heal', stack, service, message: HEALED[reason], bad: reason === 'crashed' || reason === 'liveness' });

  // Health: probes and self-healing.
  const prober = new Prober({
    now,
    run: opts.probeRun,
    onProbeFailure: () => metrics.heal.probeFailed(),
    onReadinessChange: (r, ready) => {
      // The table follows at once; the lane looks again (a rollout may wait on this replica).
      signals.readinessChanged();
      signals.wake(r.stack, `probe: ${r.name} is ${ready ? 'ready' : 'not ready'}`);
    },
    onFailed: (r, health) => {
      // Liveness: it was ready and failed failure_threshold probes in a row. Removing it lets the next pass recreate the slot.
      logger.warn({ stack: r.stack, service: r.service, container: r.name, output: health.lastOutput }, `liveness: ${r.name} failed ${health.failures} probes in a row (${health.lastOutput}); replacing it`);
      signals.livenessFailed(r.name);
      // Probed replicas exist on the docker backend only (hooks below).
      (engine?.removeContainer(r.containerId) ?? Promise.resolve())
        .catch((err: unknown) => logger.error({ err, container: r.name }, `cannot remove ${r.name}`))
        .finally(() => signals.wake(r.stack, `liveness failure of ${r.name}`));
    },
  });
  const healer = new Healer({
    logger,
    now,
    logTail: async (id) => logTail(await docker, id, 5),
    metrics: metrics.heal,
    isReady: (c) => isReady(c, prober.verdict(c.id)),
  });

  // Traffic: the routing table, pushed to the router when one runs.
  const served = opts.router === undefined ? undefined : await servedBackends(opts.router.client);
  const routerClient = opts.router?.client;
  const routed = new RoutedTraffic({
    httpPort: settings.httpPort,
    probeOf: (id) => prober.verdict(id),
    push: routerClient === undefined ? undefined : async (table) => void (await routerClient.pushTable(table)),
    drain: routerClient === undefined ? undefined : async (id, ms) => void (await routerClient.drain(id, ms)),
    certificates: routerClient === undefined ? undefined : certificateHandover(routerClient, base.contents ?? { env: {}, ageKeyFile: undefined }, (revision, id) => base.source.readBlob(revision, id)),
    logger,
  });
  if (routerClient !== undefined) metrics.routerText = () => routerClient.metrics();
  // A replica on its way out is no longer probed: its liveness must not race the stop (or remove it from under the rollout).
  const traffic: Traffic = {
    admit: (r) => routed.admit(r),
    renamed: (id, name) => routed.renamed(id, name),
    retire: (id, ms) => { prober.forget(id); return routed.retire(id, ms); },
    split: (stack, service, split) => routed.split(stack, service, split),
    switchOver: (admit, retire, ms) => { for (const id of retire) prober.forget(id); return routed.switchOver(admit, retire, ms); },
  };

  // What the API says, and Git: one fetch per trigger, waking only the lanes whose stacks changed.
  const syncAllowed = (): boolean => isSyncAllowed(settings.syncWindows, now());
  const state = new DaemonState({ instance, branch: settings.branch, syncAllowed, documents: () => status.snapshot() });
  const gitOutage = new Outage(logger, 'Git');
  // `capstan apply` asking: which lane passes saw the newest commit (told by the lanes and by Git's changes).
  const applyRequests = new ApplyRequests();
  const revisions = new Revisions({
    source: timedResolve(base.source, (s) => metrics.recordGitFetch(s)),
    desired: base.desired,
    onChanged: (stacks, reason) => {
      applyRequests.gitChanged();
      for (const s of stacks) signals.wake(s, reason);
    },
    onError: (error) => {
      gitOutage.failed(error);
      void status.reportSourceError(error);
    },
    onRecovered: () => {
      gitOutage.recovered(`${base.source.display} answers again`, { repo: base.source.display });
      void status.clearSourceError();
    },
    logger,
  });

  // The dashboard hears each lane pass: the new status, the plan when it did something, commit subjects; events below.
  const lastFailure = new Map<string, string>();
  /** Per stack, whether its last pass left work under way: the plan of a deploy is the one that began it, not each step's rest. */
  const underway = new Set<string>();
  // The whole status document is built and sent once per burst of lane passes (25 lanes woken together are one update, not 25).
  let statusQueued = false;
  const publishStatus = (): void => {
    statusQueued = false;
    const current = state.status(signals.lanes(), revisions.revision());
    feed.setStatus(current);
    const shas = new Set(current.stacks.flatMap((s) => [s.lastAppliedRevision, s.lastAttemptedRevision]).filter((x): x is string => x !== undefined && !feed.knowsCommit(x)));
    if (shas.size === 0) return;
    void Promise.all([...shas].map(async (sha) => [sha, await base.source.commitSubject(sha).catch(() => undefined)] as const))
      .then((found) => feed.setCommits(new Map(found.filter((f): f is readonly [string, string] => f[1] !== undefined))));
  };
  const publish = (stack: string, outcome: LaneOutcome | Error, at: number): void => {
    const time = new Date(at).toISOString();
    if (!statusQueued) {
      statusQueued = true;
      setTimeout(publishStatus, PUBLISH_COALESCE_MS).unref();
    }
    const failure = outcome instanceof Error ? outcome.message : undefined;
    if (failure !== undefined && failure !== lastFailure.get(stack)) feed.event({ time, kind: 'pass-failed', stack, message: failure, bad: true });
    if (failure === undefined) lastFailure.delete(stack);
    else lastFailure.set(stack, failure);
    if (!(outcome instanceof Error) && outcome.operations.length > 0 && outcome.kind !== 'held' && !underway.has(stack)) {
      feed.setPlan({ revision: outcome.revision ?? '', at: time, operations: outcome.operations });
    }
    if (!(outcome instanceof Error) && (outcome.kind === 'progressing' || outcome.kind === 'superseded')) underway.add(stack);
    else underway.delete(stack);
  };

  // Deploy events from each lane's typed outcome (deploy-outcome.ts): commit statuses and notifications, and the dashboard's events.
  const deploys = new DeployEvents((event) => {
    opts.notify?.(event);
    const shown = opsEventOf(event, new Date(now()).toISOString());
    if (shown !== undefined) feed.event(shown);
  });

  // The lanes.
  const lastKinds = new Map<string, string>();
  const recordOutcome = (stack: string, outcome: LaneOutcome, started: number, revert: string | undefined): void => {
    const finished = now();
    state.record(stack, outcome, started, finished);
    publish(stack, outcome, finished);
    announcePass(deploys, outcome, revert);
    const doc = status.stack(stack);
    metrics.recordPass(stack, outcome.kind, (finished - started) / 1000, doc !== undefined && stackIsReady(doc), outcome.kind === 'converged' && outcome.applied > 0 ? finished / 1000 : undefined);
    metrics.recordProgress(stack, outcome.progress);
    const key = `${outcome.kind}/${outcome.reason}/${outcome.revision ?? ''}`;
    if (lastKinds.get(stack) === key) return;
    lastKinds.set(stack, key);
    const fields = { stack, outcome: outcome.kind, reason: outcome.reason, revision: outcome.revision };
    const line = `${stack}: ${outcome.kind} (${outcome.reason})${outcome.revision === undefined ? '' : ` at ${outcome.revision.slice(0, 7)}`}`;
    if (outcome.kind === 'failed') logger.warn(fields, line);
    else logger.info(fields, line);
  };
  const hooks: DaemonHooks | undefined = engine === undefined ? undefined : {
    healing: (stack, observed) => healer.input(stack, observed),
    planned: (stack, desired, plan, observed, rotation, splits) => {
      // What the router served before this process started was ready; it keeps its traffic until a probe says otherwise.
      prober.sync(stack, probedReplicas(desired, observed.containers.filter((c) => !rotation.retiring.includes(c.id))), presumedReady(observed, served));
      void routed.planned(stack, desired, observed.containers, [...rotation.retiring, ...rotation.held], plan.revision, splits);
      return healer.planned(stack, { plan, observed });
    },
    applied: (_stack, plan, observed, done) => healer.afterPass({ plan, observed }, done),
    facts: async (stack) => ({ probes: prober.verdicts(), crashLoops: await healer.crashLoops(stack) }),
  };
  /** The auto-revert each lane's last report pushed, for its deploy events. */
  const reverts = new Map<string, string | undefined>();
  const commands = new RolloutCommands((stack, reason) => signals.wake(stack, reason));
  const autoscaler = new Autoscaler({
    load: {
      requests: async (stack, service) => {
        if (routerClient === undefined) return undefined;
        const stats = await routerClient.routes();
        return stats.routes.filter((r) => r.route === `${stack}/${service}`).reduce((n, r) => n + r.requests, 0);
      },
      cpu: async (stack, service) => {
        const running = (await backend.observe(instance, { stack })).containers.filter((c) => c.service === service && c.state === 'running');
        const client = await docker;
        const readings = (await Promise.all(running.map((c) => cpuPercent(client, c.id).catch(() => undefined)))).filter((n): n is number => n !== undefined);
        return readings.length === 0 ? undefined : readings.reduce((a, b) => a + b, 0) / readings.length;
      },
    },
    wake: (stack, reason) => signals.wake(stack, reason),
    timers: REAL_TIMERS,
    logger,
  });
  const passDeps: StackPassDeps = {
    backend, instance, publishPorts: base.publishPorts, contents: base.contents,
    materialize: (revision) => base.source.materialize(revision),
    readBlob: (revision, id) => base.source.readBlob(revision, id),
    dataDir: base.dataDir,
    rollout: {
      ...base.rollout, traffic, probes: prober, store: fileRolloutStore(rolloutsDir(settings.dataDir, instance)), now,
      removing: (id) => {
        // Stopping on purpose: its probes must not call that a liveness failure.
        prober.forget(id);
        healer.noteRemoving(id);
      },
      analysis: releaseAnalysis(routerClient),
      check: opts.probeRun,
    },
    parallelism: settings.parallelism, logger, now, syncAllowed, force: false, hooks, commands, progress: feed,
    backoff: new StackBackoff(logger),
    ...(base.digests === undefined ? {} : { digests: base.digests }),
    autoscaleLimits: (stack) => autoscaler.info().flatMap((a) => (a.stack === stack && a.limited !== undefined ? [{ service: a.service, bound: a.limited.bound, limit: a.limited.bound === 'max' ? a.max : a.min }] : [])),
    autoscale: (stack, services) => {
      const counts = autoscaler.plan(stack, services);
      metrics.recordAutoscale(autoscaler.info());
      return counts;
    },
    report: async (stack, report) => {
      const revert = await status.report(stack, report);
      reverts.set(stack, revert);
      return revert;
    },
  };
  const memory = new Map<string, LaneMemory>();
  // The engine gone is one fact for every lane: said when it starts and when the engine answers again, not once per lane retry.
  const engineOutage = new Outage(logger, 'the Docker engine');
  const engineAnswers = (): void => engineOutage.recovered(`Docker engine at ${base.backend.endpoint} answers again`, { endpoint: base.backend.endpoint });
  // A full (or read-only) data dir, likewise: one line when it starts refusing writes, one when it takes them again.
  const dataDirOutage = new Outage(logger, 'the data dir');
  const lanes = new LaneScheduler({
    maxRetryMs: settings.intervalMs,
    onError: (stack, error) => {
      state.record(stack, error, now(), now());
      publish(stack, error, now());
      metrics.recordPass(stack, 'error', 0, false, undefined);
      if (error instanceof DockerUnavailableError) engineOutage.failed(error);
      else if (error instanceof DataDirWriteError) dataDirOutage.failed(error);
      else logPassError(logger.child({ stack }), error);
    },
    pass: async (stack) => {
      const started = now();
      const lane = memory.get(stack) ?? newLaneMemory();
      memory.set(stack, lane);
      const pass = applyRequests.passBegins();
      const outcome = await runStackPass(stack, revisions.stack(stack), lane, passDeps).catch((err: unknown) => {
        applyRequests.passFailed(pass, stack, err instanceof Error ? err : new Error(String(err)));
        throw err;
      });
      applyRequests.passEnded(pass, outcome);
      if (!outcome.failures.some((f) => f.error instanceof DockerUnavailableError)) engineAnswers();
      dataDirOutage.recovered(`the data dir ${settings.dataDir} takes writes again`, { dataDir: settings.dataDir });
      recordOutcome(stack, outcome, started, reverts.get(stack));
      reverts.delete(stack);
      return { requeueAt: outcome.requeueAt };
    },
  });
  signals.connect({ lanes, routed, healer });
  // The router's counters and latency histograms by service and version, for the dashboard's charts.
  const stopSampler = routerClient === undefined ? undefined : startTrafficSampler(feed, {
    sample: async () => {
      const [stats, routes] = await Promise.all([routerClient.stats(), routerClient.routes()]);
      return countersFromRouter(stats.backends, routes.routes, routed.replicas());
    },
  });

  /** Every stack in Git or on the engine: resync and start-up wake them all (a stack removed from Git while the daemon was down is pruned). */
  const resyncAll = async (reason: string): Promise<void> => {
    await revisions.refresh(reason);
    const onEngine = await backend.observe(instance).then(observedStacks).catch(() => []);
    for (const s of new Set([...revisions.names(), ...onEngine])) lanes.wake(s, reason);
  };
  const ownTarget = applyTarget({ instance, repo: settings.repo ?? '', branch: settings.branch, path: settings.path, backend: settings.backend }, process.cwd());
  /** `capstan apply` asking (POST /api/apply): every stack's next passes, answered as the command would print them. */
  const applyNow = async (asked: ApplyTarget): Promise<ApplyAnswer | { refused: string }> => {
    const mismatch = targetMismatch(ownTarget, asked);
    if (mismatch !== undefined) return { refused: mismatch };
    const opened = applyRequests.opened();
    await revisions.refresh('capstan apply');
    // The newest commit could not be read: the command says why, as it would applying by itself.
    const failure = revisions.lastFailure();
    if (failure !== undefined) return { ...applyAnswer(instance, revisions.revision(), [], [], [], []), error: { code: failure instanceof CapstanError ? failure.code : 'E_GIT_FETCH', message: failure.message, hint: failure instanceof CapstanError ? failure.hint : undefined } };
    // The stacks in Git, and those the lanes know of on the engine (start-up and resyncs looked).
    const stacks = [...new Set([...revisions.names(), ...lanes.stacks()])].sort();
    const results = applyRequests.wait(stacks, opened, stop.signal);
    for (const s of stacks) lanes.wake(s, 'capstan apply');
    const revision = revisions.revision();
    const done = await results;
    const held = (await base.rollout.held.list()).filter((h) => h.revision === revision).map((h) => `${h.stack}/${h.service}`);
    return applyAnswer(instance, revision, stacks, done, settings.syncWindows.map((w) => w.text), held);
  };
  /**
   * Newer tags Git allows, committed beside the lanes (never holding one) and announced; resolves with the
   * commit to deploy next when it went to the followed branch (the next trigger's).
   */
  const updateImages = async (): Promise<string | undefined> => {
    const updater = opts.imageUpdater;
    const head = revisions.revision();
    if (updater === undefined || head === undefined) return undefined;
    const desired: DesiredState = { revision: head, stacks: revisions.names().flatMap((n) => { const d = revisions.stack(n)?.desired; return d === undefined ? [] : [d]; }) };
    if (updater.due(desired).length === 0) return undefined;
    const scan = await updater.scan(desired);
    const commit = scan.commit;
    if (commit === undefined) return undefined;
    for (const u of scan.updates) deploys.report({ kind: 'image-update.committed', stack: u.stack, service: u.service, from: u.from, to: u.to, commit });
    return settings.imageUpdateBranch === undefined ? commit : undefined;
  };
  // A sync window that opens (or closes) changes what every lane may do: each looks again.
  let windowOpen = syncAllowed();
  const trigger = (reason: string): void => {
    if (stop.signal.aborted) return;
    const open = syncAllowed();
    const windowMoved = open !== windowOpen;
    windowOpen = open;
    // A resync, a sync asked for through the API, or a window that moved: every lane; anything else: the lanes Git changed.
    const looked = reason.startsWith('resync') || reason === 'api sync' || windowMoved ? resyncAll(windowMoved ? `sync window ${open ? 'opened' : 'closed'}` : reason) : revisions.refresh(reason);
    void looked.then(updateImages).then((commit) => {
      if (commit !== undefined) trigger(`image update ${commit.slice(0, 7)}`);
    });
  };

  // The outward side.
  const app = buildServer({
    branch: settings.branch,
    webhookSecret: settings.webhookSecret,
    apiToken: opts.token.value,
    metricsPublic: settings.metricsPublic,
    trigger,
    isReady: () => state.isReady(),
    getStatus: () => ({ ...state.status(lanes.info(), revisions.revision()), autoscale: autoscaler.info() }),
    planJson: async () => {
      try {
        return renderJson((await planPass({ ...base, backend })).plan);
      } catch (err) {
        if (err instanceof ManifestsInvalidError) return renderJsonInvalid(err, instance);
        throw err;
      }
    },
    endpoints: () => routed.table(),
    metrics,
    logger,
    rolloutCommand: (stack, service, command) => commands.request(stack, service, command),
    apply: applyNow,
    dashboard: {
      feed,
      assetsDir: dashboardAssetsDir(),
      history: async (stack) => {
        if (settings.statusBranch === 'none' || settings.repo === undefined) return [];
        const versions = await readStatusVersions(stack, { repo: settings.repo, branch: settings.statusBranch, credentials: credentialsFromEnv(process.env), logger, limit: HISTORY_LIMIT });
        return deploysOf(versions);
      },
    },
  });
  const address = await listen(app, settings.listen);
  if (settings.webhookSecret === undefined) logger.info('webhooks are off (set CAPSTAN_WEBHOOK_SECRET to accept them)');
  logger.info({ tokenSource: opts.token.source, tokenFile: opts.token.path }, opts.token.path === undefined ? 'the HTTP API needs the token from CAPSTAN_API_TOKEN' : `the HTTP API needs the token in ${opts.token.path}`);
  const watcher = isRemoteRepo(settings.repo ?? '') ? undefined : await watchLocalRef(settings.repo ?? '', settings.branch, (reason) => trigger(`watch: ${reason}`), logger);
  const resync = await startResync(settings.resync, trigger);
  const poll = setInterval(() => trigger('poll'), settings.intervalMs);
  const events = watchEngineEvents({
    ...(engine === undefined
      // A node going down or back changes every stack's status and what Swarm reschedules: every lane looks again.
      ? { open: swarmNodeEventsOpener(), parse: parseNodeEvent, onEvent: (e: EngineEvent) => void resyncAll(`${e.action} ${e.name}`) }
      : { open: dockerEventsOpener(instance), onEvent: (e: EngineEvent) => {
        healer.noteEvent(e.action, e.stack, e.name, e.time, e.containerId);
        const wake = (): void => lanes.wake(e.stack, `${e.action} ${e.name}`);
        if (e.action !== 'die') return wake();
        // The engine tells of a death before its container list shows it (0.1-0.2 s at 500
        // containers, while it tears the container down); an inspect waits for that, so the
        // pass it wakes sees the replica exited rather than looking again and again.
        const settled = engine.inspectReplica(e.containerId).catch(() => undefined);
        void Promise.race([settled, new Promise((r) => setTimeout(r, DEATH_SETTLE_MAX_MS).unref())]).then(wake);
      } }),
    onReconnect: () => {
      healer.engineLost();
      engineAnswers();
      trigger('resync: events stream reconnected');
    },
    // The engine went away or restarts: every lane looks now, so status says so at once (and a lane mid-rollout learns it).
    onLost: () => {
      healer.engineLost();
      for (const s of lanes.stacks()) lanes.wake(s, 'Docker events stream lost');
    },
    logger,
    signal: stop.signal,
  });
  logger.info({ listen: address, watch: watcher !== undefined, resync: settings.resync, syncWindows: settings.syncWindows.map((w) => w.text), repo: base.source.display, branch: settings.branch, instance, intervalMs: settings.intervalMs }, `capstan running; HTTP API on ${address}`);

  // The first look: every stack in Git and on the engine gets a pass; ready once those ended.
  void resyncAll('start').then(() => lanes.idle()).then(() => state.markReady());

  const stopped = (async () => {
    await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    clearInterval(poll);
    resync.stop();
    stopSampler?.();
    await lanes.stop();
    autoscaler.stop();
    prober.stop();
    await events;
    await routed.settled();
    await status.settled();
    await watcher?.close();
    await app.close();
  })();
  return {
    address,
    stopped,
    stop: (reason) => {
      if (stop.signal.aborted) return;
      logger.info({ reason }, 'stopping after the passes in flight');
      stop.abort();
    },
  };
}

/** Lane passes ending this close together update the dashboard's status once. */
const PUBLISH_COALESCE_MS = 50;

/** The longest a death's lane pass waits for the engine to finish recording it; a stuck engine is looked at anyway. */
const DEATH_SETTLE_MAX_MS = 2000;

/** Status commits a dashboard's deploy history looks back through. */
const HISTORY_LIMIT = 300;

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

function timedResolve<S extends PassContext['source']>(source: S, record: (seconds: number) => void): Pick<S, 'resolve'> {
  return {
    resolve: async (ref?: string) => {
      const t = performance.now();
      try {
        return await source.resolve(ref);
      } finally {
        record((performance.now() - t) / 1000);
      }
    },
  };
}
