// `capstan run`: the daemon. Builds what every command needs, starts the
// router (which outlives the daemon), and hands both to the daemon's wiring
// (reconciler/daemon.ts); SIGTERM/SIGINT let the passes in flight finish,
// close the HTTP API and exit 0.

import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { startDaemon } from '../reconciler/daemon.js';
import { checkListenToken, resolveApiToken } from '../server/api-token.js';
import { commitUrlOf, DashboardFeed } from '../server/dashboard/feed.js';
import { createPassContext, probeRunner } from './context.js';
import { startRouterSupervisor } from './router-mode.js';
import { createStatusReporter } from './status-reporter.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  // First: a daemon that may not open its API must not start a router or touch the engine either.
  const token = resolveApiToken(settings);
  checkListenToken(settings.listen, token);
  const created = await createPassContext(settings, logger);
  // The dashboard's feed hears the progress of rollouts and builds (where `apply` draws lines).
  const feed = new DashboardFeed({ repo: created.source.display, commitUrl: commitUrlOf(created.source.display) });
  const base = { ...created, progress: feed };
  const status = createStatusReporter(settings, logger);
  const router = await startRouterSupervisor(settings, logger);
  const daemon = await startDaemon({ settings, logger, base, status, router, probeRun: probeRunner(), token, feed });
  process.once('SIGTERM', () => daemon.stop('SIGTERM'));
  process.once('SIGINT', () => daemon.stop('SIGINT'));
  await daemon.stopped;
  // The router keeps serving across operator restarts: it is not stopped with the daemon.
  router?.stop();
  logger.info('stopped');
  return 0;
}
