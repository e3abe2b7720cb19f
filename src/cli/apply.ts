// `capstan apply`: one reconcile pass of the newest commit, then exit. A
// closed sync window holds the changes (exit 1) unless --force.

import type { Settings } from '../config/settings.js';
import { SyncWindowClosedError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { windowedPass } from '../reconciler/windowed-pass.js';
import { describeOperation } from '../plan/render.js';
import { createPassContext } from './context.js';
import { createStatusReporter } from './status-reporter.js';

export async function applyCommand(settings: Settings, logger: Logger, opts: { force: boolean } = { force: false }): Promise<number> {
  const ctx = await createPassContext(settings, logger);
  const status = createStatusReporter(settings, ctx, logger);
  const result = await status.around(() => windowedPass(ctx, settings.syncWindows, Date.now(), opts.force));
  const sha = result.revision.slice(0, 7);
  if (result.held !== undefined) {
    throw new SyncWindowClosedError(result.revision, result.plan.operations.length, settings.syncWindows.map((w) => w.text));
  }
  if (result.plan.operations.length === 0) {
    process.stdout.write(`No changes: instance ${settings.instance} matches ${sha}.\n`);
  } else {
    for (const op of result.plan.operations) process.stdout.write(`${describeOperation(op)}\n`);
    process.stdout.write(`Applied ${result.applied} operation${result.applied === 1 ? '' : 's'}; instance ${settings.instance} now runs ${sha}.\n`);
  }
  return 0;
}
