// `capstan apply`: one reconcile pass of the newest commit, then exit.

import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { describeOperation } from '../plan/render.js';
import { createPassContext } from './context.js';
import { createStatusReporter, reconcileAndReport } from './status-reporter.js';

export async function applyCommand(settings: Settings, logger: Logger): Promise<number> {
  const ctx = await createPassContext(settings, logger);
  const result = await reconcileAndReport(ctx, createStatusReporter(settings, ctx, logger));
  const sha = result.revision.slice(0, 7);
  if (result.plan.operations.length === 0) {
    process.stdout.write(`No changes: instance ${settings.instance} matches ${sha}.\n`);
  } else {
    for (const op of result.plan.operations) process.stdout.write(`${describeOperation(op)}\n`);
    process.stdout.write(`Applied ${result.applied} operation${result.applied === 1 ? '' : 's'}; instance ${settings.instance} now runs ${sha}.\n`);
  }
  return 0;
}
