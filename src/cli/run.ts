// `capstan run`: the daemon. Builds what every command needs, starts the
// router (which outlives the daemon), and hands both to the daemon's wiring
// (reconciler/daemon.ts); SIGTERM/SIGINT let the passes in flight finish,
// close the HTTP API and exit 0.

import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { startDaemon } from '../reconciler/daemon.js';
import { createPassContext, probeRunner } from './context.js';
import { startRouterSupervisor } from './router-mode.js';
import { createStatusReporter } from './status-reporter.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  const base = await createPassContext(settings, logger);
  const status = createStatusReporter(settings, logger);
  const router = await startRouterSupervisor(settings, logger);
  const daemon = await startDaemon({ settings, logger, base, status, router, probeRun: probeRunner() });
  process.once('SIGTERM', () => daemon.stop('SIGTERM'));
  process.once('SIGINT', () => daemon.stop('SIGINT'));
  await daemon.stopped;
  // The router keeps serving across operator restarts: it is not stopped with the daemon.
  router?.stop();
  logger.info('stopped');
  return 0;
}
