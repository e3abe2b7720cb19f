// `capstan run --backend swarm`: the daemon when Swarm runs the replicas.
// Swarm restarts, reschedules and rolls tasks itself, so there is no healer,
// prober or router here: the loop polls the branch, the HTTP API and
// webhooks trigger passes as with the docker backend, and the manager's node
// events trigger one at once, so status follows a node going down and the
// services Swarm reschedules.

import { watchEngineEvents } from '../backends/docker/events.js';
import { parseNodeEvent, swarmNodeEventsOpener } from '../backends/swarm/events.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { ReconcileLoop } from '../reconciler/loop.js';
import type { PassContext } from '../reconciler/pass.js';
import type { ApiToken } from '../server/api-token.js';
import type { DashboardFeed } from '../server/dashboard/feed.js';
import { DaemonMetrics } from '../server/metrics.js';
import { startDaemonApi } from './run-api.js';
import { stopOnSignals } from './signals.js';
import { createStatusReporter } from './status-reporter.js';

/** `api`: the API token and the dashboard feed run.ts resolved before anything started. */
export async function runSwarmDaemon(settings: Settings, base: PassContext, logger: Logger, api: { token: ApiToken; feed: DashboardFeed }): Promise<number> {
  const stop = stopOnSignals(logger);

  const metrics = new DaemonMetrics();
  const status = createStatusReporter(settings, base, logger);
  const ctx: PassContext = {
    ...base,
    rollout: { ...base.rollout, interrupted: async () => (stop.signal.aborted ? 'the daemon is stopping' : undefined) },
  };
  const loop: ReconcileLoop = new ReconcileLoop({ intervalMs: settings.intervalMs, logger, pass: () => daemon.pass() });
  const daemon = await startDaemonApi({ settings, ctx, logger, trigger: (reason) => loop.trigger(reason), endpoints: () => ({ l4: [], l7: [] }), status, metrics, token: api.token, feed: api.feed });
  const events = watchEngineEvents({
    open: swarmNodeEventsOpener(),
    parse: parseNodeEvent,
    onEvent: (e) => loop.trigger(`${e.action} ${e.name}`),
    onReconnect: () => loop.trigger('events stream reconnected'),
    logger,
    signal: stop.signal,
  });
  logger.info({ repo: ctx.source.display, branch: settings.branch, instance: settings.instance, intervalMs: settings.intervalMs, backend: 'swarm', manager: base.backend.endpoint }, 'capstan running on a swarm');
  await loop.run(stop.signal);
  await events;
  await daemon.stop();
  logger.info('stopped');
  return 0;
}
