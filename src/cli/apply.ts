// `capstan apply`: every stack of the newest commit brought to it once, in
// lanes side by side, each stepped until its rollouts are done; then exit.
// A closed sync window holds the changes (exit 1) unless --force. Deploys
// are announced as the daemon announces them (commit statuses, webhooks),
// and what is queued goes out before the command exits.

import { requireRepo, type Settings } from '../config/settings.js';
import { ApplyError, ManifestsInvalidError, RolloutHeldError, SyncWindowClosedError } from '../errors.js';
import { describeHeld } from '../strategies/rolling.js';
import { stepLine } from '../strategies/step.js';
import type { Logger } from '../logging/logger.js';
import { isSyncAllowed } from '../config/sync-window.js';
import { DeployEvents } from '../events/deploy-events.js';
import { announcePass } from '../reconciler/deploy-outcome.js';
import { applyRevision } from '../reconciler/one-shot.js';
import type { DesiredState } from '../desired/model.js';
import { routerClient } from '../router/client.js';
import { checkDataDir, createPassContext, routerServesPorts } from './context.js';
import { createNotifier, NOTIFY_DRAIN_MS } from './notifier.js';
import { stderrProgress } from './progress-line.js';
import { createStatusReporter } from './status-reporter.js';
import { appliedLines, askDaemonToApply, printDaemonApply, type DaemonApply } from './daemon-apply.js';
import { applyTarget } from '../reconciler/apply-target.js';
import { clientApiToken } from '../server/api-token.js';

export async function applyCommand(settings: Settings, logger: Logger, opts: { force: boolean; daemonAsked?: DaemonApply | undefined } = { force: false }): Promise<number> {
  // --force is this command's own decision (a window, a held revision): never the daemon's.
  if (!opts.force) {
    const asked = opts.daemonAsked ?? await askDaemonToApply({ listen: settings.listen, token: clientApiToken(settings), target: applyTarget({ instance: settings.instance, repo: requireRepo(settings), branch: settings.branch, path: settings.path, backend: settings.backend }, process.cwd()) }, (line) => process.stderr.write(`${line}\n`));
    if (asked.kind === 'answered') {
      logger.info({ daemon: asked.url }, 'asked the daemon leading this instance to make the pass');
      printDaemonApply(asked.answer, (line) => process.stdout.write(`${line}\n`), (line) => process.stderr.write(`${line}\n`));
      return 0;
    }
    logger.debug({ daemon: asked.url }, `applying here: ${asked.why}`);
  }
  const progress = stderrProgress(logger);
  const ctx = { ...(await createPassContext(settings, logger)), progress };
  // Relative binds live in the data dir only on one engine (Swarm's nodes get configs): nothing to check on a swarm.
  if (settings.backend === 'docker') await checkDataDir(settings, logger);
  const status = createStatusReporter(settings, logger);
  const revision = await ctx.source.resolve();
  const model = await ctx.desired.loadRevision(revision);
  if (model.errors.length > 0) {
    // A bad commit changes nothing: every stack says why, and the command fails with every problem.
    await Promise.all([...model.stacks.values()].filter((s) => s.errors.length > 0).map((s) => status.report(s.name, {
      outcome: 'failed', progress: [], health: undefined,
      input: { stack: s.name, revision, outcome: { kind: 'invalid', problems: s.errors.map((e) => e.format()) }, services: undefined, containers: [], converged: false },
    })));
    await status.settled();
    throw new ManifestsInvalidError(model.errors, revision);
  }
  const desired = await ctx.desired.load(revision);
  const notifier = createNotifier(settings, logger);
  const deploys = new DeployEvents((event) => notifier.emit(event));
  let outcomes;
  try {
    outcomes = await applyRevision(ctx, model, {
      syncAllowed: opts.force || isSyncAllowed(settings.syncWindows, Date.now()),
      force: opts.force,
      report: (stack, report) => status.report(stack, report),
      passEnded: (outcome, revert) => announcePass(deploys, outcome, revert),
    });
  } finally {
    progress.close();
    // A forge that does not answer must not hold the command long.
    await notifier.drain(NOTIFY_DRAIN_MS);
  }
  await status.settled();
  await warnWhenNoRouterServes(settings, desired, logger);

  const lines = outcomes.flatMap((o) => o.lines);
  const failures = outcomes.flatMap((o) => o.last.failures);
  const windowHeld = outcomes.filter((o) => o.last.reason === 'SyncWindowClosed');
  if (windowHeld.length > 0) throw new SyncWindowClosedError(revision, windowHeld.reduce((n, o) => n + o.last.planned, 0), settings.syncWindows.map((w) => w.text));
  if (failures.length > 0) {
    for (const line of lines) process.stdout.write(`${line}\n`);
    throw new ApplyError(failures.map((f) => ({ operation: f.line, error: f.error, stack: f.stack })), revision);
  }
  const applied = outcomes.reduce((n, o) => n + o.applied, 0);
  const awaiting = outcomes.flatMap((o) => o.last.progress).filter((p) => p.awaitingPromotion === true).map((p) => ({ service: `${p.stack}/${p.service}`, step: stepLine(p) }));
  for (const line of appliedLines(settings.instance, revision, lines, applied, outcomes.some((o) => o.last.reason === 'RolloutHeld'), awaiting, false)) process.stdout.write(`${line}\n`);
  const held = (await ctx.rollout.held.list()).filter((h) => h.revision === revision);
  if (outcomes.some((o) => o.last.reason === 'RolloutHeld') && held.length > 0) {
    for (const h of held) logger.warn({ stack: h.stack, service: h.service, revision: h.revision, end: h.end }, describeHeld(h));
    throw new RolloutHeldError(revision, held.map((h) => `${h.stack}/${h.service}`));
  }
  return 0;
}

/**
 * With the router serving published ports, containers publish none: a
 * one-shot apply with no router running (no `capstan run` for this data dir)
 * leaves them unreachable from the host. Say so, and how to get either way.
 */
async function warnWhenNoRouterServes(settings: Settings, desired: DesiredState, logger: Logger): Promise<void> {
  // On a swarm, Swarm publishes ports itself (its routing mesh, or each task's node in `mode: host`).
  if (!routerServesPorts(settings) || settings.backend === 'swarm') return;
  const published = desired.stacks.flatMap((st) => st.services.flatMap((s) => s.spec.ports.filter((p) => p.published !== undefined && p.protocol === 'tcp').map((p) => `${s.stack}/${s.name}:${p.published}`)));
  if (published.length === 0) return;
  if (await routerClient(settings.dataDir, settings.routerAdmin, settings.routerToken).healthy()) return;
  logger.warn(
    { ports: published, dataDir: settings.dataDir },
    `published ports (${published.join(', ')}) are served by Capstan's router, and none runs for --data-dir ${settings.dataDir}: start \`capstan run\` (it starts the router) or \`capstan router --data-dir ${settings.dataDir}\`, or pass --router none to publish them on the containers as docker compose does`,
  );
}
