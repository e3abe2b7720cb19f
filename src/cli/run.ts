// `capstan run`: the daemon. Polls the branch every --interval, one pass at
// a time; SIGTERM/SIGINT finish the pass in flight and exit 0.

import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { ReconcileLoop } from '../reconciler/loop.js';
import { createPassContext } from './context.js';
import { createStatusReporter, reconcileAndReport } from './status-reporter.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  const ctx = await createPassContext(settings, logger);
  const status = createStatusReporter(settings, ctx, logger);
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stopping after the pass in flight');
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  const loop = new ReconcileLoop({
    intervalMs: settings.intervalMs,
    logger,
    pass: () => reconcileAndReport(ctx, status),
    onPass: (result) => {
      if (!(result instanceof Error) && result.applied > 0) {
        logger.info({ revision: result.revision, applied: result.applied }, `converged to ${result.revision.slice(0, 7)}`);
      }
    },
  });
  logger.info({ repo: ctx.source.display, branch: settings.branch, instance: settings.instance, intervalMs: settings.intervalMs }, 'capstan running');
  await loop.run(stop.signal);
  logger.info('stopped');
  return 0;
}
