// `capstan apply`: one reconcile pass of the newest commit, then exit. A
// closed sync window holds the changes (exit 1) unless --force.

import type { Settings } from '../config/settings.js';
import { RolloutHeldError, SyncWindowClosedError } from '../errors.js';
import { describeHeld } from '../strategies/rolling.js';
import type { Logger } from '../logging/logger.js';
import { windowedPass } from '../reconciler/windowed-pass.js';
import { describeOperation } from '../plan/render.js';
import type { DesiredState } from '../desired/model.js';
import { routerClient } from '../router/client.js';
import { checkDataDir, createPassContext, routerServesPorts } from './context.js';
import { stderrProgress } from './progress-line.js';
import { createStatusReporter } from './status-reporter.js';

export async function applyCommand(settings: Settings, logger: Logger, opts: { force: boolean } = { force: false }): Promise<number> {
  const progress = stderrProgress(logger);
  const ctx = { ...(await createPassContext(settings, logger)), progress };
  await checkDataDir(settings, logger);
  const status = createStatusReporter(settings, ctx, logger);
  let result;
  try {
    result = await status.around(() => windowedPass(ctx, settings.syncWindows, Date.now(), opts.force));
  } finally {
    progress.close();
  }
  const sha = result.revision.slice(0, 7);
  await warnWhenNoRouterServes(settings, result.desired, logger);
  if (result.held !== undefined) {
    throw new SyncWindowClosedError(result.revision, result.plan.operations.length, settings.syncWindows.map((w) => w.text));
  }
  const held = result.plan.heldRollouts;
  if (result.plan.operations.length === 0 && held.length === 0) {
    process.stdout.write(`No changes: instance ${settings.instance} matches ${sha}.\n`);
  } else if (result.plan.operations.length > 0) {
    for (const op of result.plan.operations) process.stdout.write(`${describeOperation(op)}\n`);
    process.stdout.write(`Applied ${result.applied} operation${result.applied === 1 ? '' : 's'}; instance ${settings.instance} now runs ${sha}.\n`);
  }
  if (held.length > 0) {
    for (const h of held) logger.warn({ stack: h.stack, service: h.service, revision: h.revision, end: h.end }, describeHeld(h));
    throw new RolloutHeldError(result.revision, held.map((h) => `${h.stack}/${h.service}`));
  }
  return 0;
}

/**
 * With the router serving published ports, containers publish none: a
 * one-shot apply with no router running (no `capstan run` for this data dir)
 * leaves them unreachable from the host. Say so, and how to get either way.
 */
async function warnWhenNoRouterServes(settings: Settings, desired: DesiredState, logger: Logger): Promise<void> {
  if (!routerServesPorts(settings)) return;
  const published = desired.stacks.flatMap((st) => st.services.flatMap((s) => s.spec.ports.filter((p) => p.published !== undefined && p.protocol === 'tcp').map((p) => `${s.stack}/${s.name}:${p.published}`)));
  if (published.length === 0) return;
  if (await routerClient(settings.dataDir, settings.routerAdmin, settings.routerToken).healthy()) return;
  logger.warn(
    { ports: published, dataDir: settings.dataDir },
    `published ports (${published.join(', ')}) are served by Capstan's router, and none runs for --data-dir ${settings.dataDir}: start \`capstan run\` (it starts the router) or \`capstan router --data-dir ${settings.dataDir}\`, or pass --router none to publish them on the containers as docker compose does`,
  );
}
