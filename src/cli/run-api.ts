// The daemon's outward side, started by `capstan run` next to its loop: the
// HTTP API, metrics, the file watch of a local repository and the periodic
// resync. Every trigger goes to the loop, which coalesces bursts. Each pass
// is reported to status, then recorded for the API and metrics. Loaded only
// by `run` (fastify, prom-client and chokidar cost start-up time).

import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { renderJson, renderJsonInvalid } from '../plan/render.js';
import { DaemonState, type DaemonStatus } from '../reconciler/daemon-state.js';
import { planPass, type PassContext, type PassResult } from '../reconciler/pass.js';
import { startResync } from '../reconciler/resync.js';
import { isSyncAllowed } from '../reconciler/sync-window.js';
import { windowedPass } from '../reconciler/windowed-pass.js';
import type { ApiToken } from '../server/api-token.js';
import { buildServer, listen } from '../server/app.js';
import { dashboardAssetsDir } from '../server/dashboard/assets.js';
import type { DashboardFeed, LastPlan } from '../server/dashboard/feed.js';
import { eventsBetween } from '../server/dashboard/ops-events.js';
import { deploysOf } from '../status/history.js';
import { readStatusVersions } from '../status/history-reader.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { NO_STATUS_BRANCH } from './status-reporter.js';
import type { DaemonMetrics } from '../server/metrics.js';
import { ManifestsInvalidError } from '../errors.js';
import type { StatusReporter } from '../status/reporter.js';
import { isRemoteRepo, type GitSource } from '../source/git-source.js';
import { watchLocalRef } from '../source/watch.js';

/** Status commits a dashboard's deploy history looks back through. */
const HISTORY_LIMIT = 300;

export interface DaemonApi {
  /** The loop's pass: windowed, timed, reported to status, recorded for the API and metrics. */
  pass(): Promise<PassResult>;
  /** Where the HTTP API listens (host:port as bound). */
  address: string;
  stop(): Promise<void>;
}

/** `now` is the daemon's clock (injected so tests can move time for sync windows). */
export async function startDaemonApi(opts: {
  settings: Settings;
  ctx: PassContext;
  logger: Logger;
  trigger: (reason: string) => void;
  /** The routing table of the last pass (GET /api/endpoints). */
  endpoints: () => unknown;
  status: StatusReporter;
  metrics: DaemonMetrics;
  /** Resolved (and checked against --listen) before anything starts: see apiTokenFor. */
  token: ApiToken;
  /** The dashboard's live feed: every pass's status, events, plan and commit subjects go here. */
  feed: DashboardFeed;
  now?: () => number;
}): Promise<DaemonApi> {
  const { settings, logger, trigger, status, metrics, token, feed } = opts;
  const now = opts.now ?? Date.now;
  const ctx: PassContext = { ...opts.ctx, source: timedResolve(opts.ctx.source, (s) => metrics.recordGitFetch(s)) };
  const syncAllowed = (): boolean => isSyncAllowed(settings.syncWindows, now());
  const state = new DaemonState({ instance: settings.instance, branch: settings.branch, syncAllowed, documents: () => status.snapshot() });

  const app = buildServer({
    branch: settings.branch,
    webhookSecret: settings.webhookSecret,
    apiToken: token.value,
    metricsPublic: settings.metricsPublic,
    trigger,
    isReady: () => state.isReady(),
    getStatus: () => state.status(),
    planJson: async () => {
      try {
        return renderJson((await planPass(ctx)).plan);
      } catch (err) {
        if (err instanceof ManifestsInvalidError) return renderJsonInvalid(err, settings.instance);
        throw err;
      }
    },
    endpoints: opts.endpoints,
    metrics,
    logger,
    dashboard: {
      feed,
      assetsDir: dashboardAssetsDir(),
      history: async (stack) => {
        if (settings.statusBranch === NO_STATUS_BRANCH || settings.repo === undefined) return [];
        const versions = await readStatusVersions(stack, { repo: settings.repo, branch: settings.statusBranch, credentials: credentialsFromEnv(process.env), logger, limit: HISTORY_LIMIT });
        return deploysOf(versions);
      },
    },
  });
  const address = await listen(app, settings.listen);
  if (settings.webhookSecret === undefined) logger.info('webhooks are off (set CAPSTAN_WEBHOOK_SECRET to accept them)');
  logger.info({ tokenSource: token.source, tokenFile: token.path }, token.path === undefined ? 'the HTTP API needs the token from CAPSTAN_API_TOKEN' : `the HTTP API needs the token in ${token.path}`);

  const watcher = isRemoteRepo(settings.repo ?? '') ? undefined : await watchLocalRef(settings.repo ?? '', settings.branch, (reason) => trigger(`watch: ${reason}`), logger);
  const resync = await startResync(settings.resync, trigger);
  logger.info({ listen: address, watch: watcher !== undefined, resync: settings.resync, syncWindows: settings.syncWindows.map((w) => w.text) }, `HTTP API on ${address}`);

  let wasHeld = false;
  let lastError: string | undefined;
  const recordPass = (result: PassResult | Error, started: number): void => {
    const finished = now();
    const stacks = state.record(result, started, finished);
    publish(result, finished);
    const outcome = result instanceof Error ? 'error' : result.held !== undefined ? 'held' : 'success';
    metrics.recordPass(outcome, (finished - started) / 1000, stacks);
    if (outcome === 'held' && !wasHeld) logger.warn({ reason: 'SyncWindowClosed' }, 'Reconciling: a sync window is closed; changes wait until it opens');
    if (outcome === 'success' && wasHeld) logger.info('sync window open again; held changes applied');
    if (outcome !== 'error') wasHeld = outcome === 'held';
  };
  /** What the dashboard hears of a pass: the new status, what changed as events, the plan when it did something, commit subjects. */
  // The status reporter has already moved on when a pass is recorded: compare with what the feed last published.
  let published: DaemonStatus['stacks'] = [];
  const publish = (result: PassResult | Error, at: number): void => {
    const current = state.status();
    const time = new Date(at).toISOString();
    for (const e of eventsBetween(published, current.stacks, time)) feed.event(e);
    published = current.stacks;
    if (result instanceof Error) {
      if (result.message !== lastError) feed.event({ time, kind: 'pass-failed', message: result.message, bad: true });
      lastError = result.message;
    } else {
      lastError = undefined;
      if (result.plan.operations.length > 0 && result.held === undefined) {
        const rendered = JSON.parse(renderJson(result.plan)) as { operations: LastPlan['operations'] };
        feed.setPlan({ revision: result.revision, at: time, operations: rendered.operations });
      }
    }
    feed.setStatus(current);
    const shas = new Set(current.stacks.flatMap((s) => [s.lastAppliedRevision, s.lastAttemptedRevision]).filter((x): x is string => x !== undefined && !feed.knowsCommit(x)));
    if (!(result instanceof Error)) shas.add(result.revision);
    void Promise.all([...shas].filter((sha) => !feed.knowsCommit(sha)).map(async (sha) => [sha, await ctx.source.commitSubject(sha).catch(() => undefined)] as const))
      .then((found) => feed.setCommits(new Map(found.filter((f): f is readonly [string, string] => f[1] !== undefined))));
  };
  return {
    address,
    async pass() {
      const started = now();
      try {
        const result = await status.around(() => windowedPass(ctx, settings.syncWindows, started));
        recordPass(result, started);
        return result;
      } catch (err) {
        recordPass(err instanceof Error ? err : new Error(String(err)), started);
        throw err;
      }
    },
    async stop() {
      resync.stop();
      await watcher?.close();
      await app.close();
    },
  };
}

function timedResolve(source: GitSource, record: (seconds: number) => void): GitSource {
  return {
    display: source.display,
    resolve: async (ref) => {
      const t = performance.now();
      try {
        return await source.resolve(ref);
      } finally {
        record((performance.now() - t) / 1000);
      }
    },
    readFiles: (revision, dir) => source.readFiles(revision, dir),
    materialize: (revision) => source.materialize(revision),
    listTree: (revision) => source.listTree(revision),
    readBlob: (revision, id) => source.readBlob(revision, id),
    commitSubject: (revision) => source.commitSubject(revision),
  };
}
