// `capstan run`: the daemon. Polls the branch every --interval, one pass at
// a time; Docker events for this instance's containers trigger a pass at
// once (self-healing); SIGTERM/SIGINT finish the pass in flight and exit 0.

import { connectDocker } from '../backends/docker/connect.js';
import { dockerEventsOpener, watchEngineEvents } from '../backends/docker/events.js';
import { logTail } from '../backends/docker/logs.js';
import type { Settings } from '../config/settings.js';
import { HealMetrics } from '../health/metrics.js';
import type { Logger } from '../logging/logger.js';
import { Healer } from '../reconciler/healing.js';
import { ReconcileLoop } from '../reconciler/loop.js';
import { reconcilePass } from '../reconciler/pass.js';
import { createPassContext } from './context.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  const ctx = await createPassContext(settings, logger);
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stopping after the pass in flight');
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  const docker = connectDocker().then((c) => c.docker);
  const healer = new Healer({
    logger,
    now: () => Date.now(),
    trigger: (reason) => loop.trigger(reason),
    logTail: async (id) => logTail(await docker, id, 5),
    metrics: new HealMetrics(),
  });
  const loop: ReconcileLoop = new ReconcileLoop({
    intervalMs: settings.intervalMs,
    logger,
    pass: () => reconcilePass(ctx, healer.input),
    onPass: (result) => {
      if (result instanceof Error) return;
      if (result.applied > 0) logger.info({ revision: result.revision, applied: result.applied }, `converged to ${result.revision.slice(0, 7)}`);
      healer.afterPass(result).catch((err: unknown) => logger.warn({ err }, 'health report failed'));
    },
  });
  const events = watchEngineEvents({
    open: dockerEventsOpener(settings.instance),
    onEvent: (e) => {
      healer.noteEvent(e.action, e.name, e.time, e.containerId);
      loop.trigger(`${e.action} ${e.name}`);
    },
    onReconnect: () => loop.trigger('events stream reconnected'),
    logger,
    signal: stop.signal,
  });
  logger.info({ repo: ctx.source.display, branch: settings.branch, instance: settings.instance, intervalMs: settings.intervalMs }, 'capstan running');
  await loop.run(stop.signal);
  healer.stop();
  await events;
  logger.info('stopped');
  return 0;
}
