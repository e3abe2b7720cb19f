// `capstan run`: the daemon. Polls the branch every --interval, one pass at
// a time; webhooks, /api/sync, the file watch and --resync trigger passes in
// between (src/cli/run-api.ts), and Docker events for this instance's
// containers trigger one at once (self-healing). SIGTERM/SIGINT finish the
// pass in flight, close the HTTP API and exit 0.

import { connectDocker } from '../backends/docker/connect.js';
import { dockerEventsOpener, watchEngineEvents } from '../backends/docker/events.js';
import { logTail } from '../backends/docker/logs.js';
import type { Settings } from '../config/settings.js';
import { HealMetrics } from '../health/metrics.js';
import { Prober, type ProbedReplica } from '../health/prober.js';
import type { ObservedState } from '../observed/model.js';
import { runProbe } from '../health/probes.js';
import type { Logger } from '../logging/logger.js';
import { Healer } from '../reconciler/healing.js';
import { ReconcileLoop } from '../reconciler/loop.js';
import { buildRoutingTable, type BuiltTable } from '../router/routes.js';
import type { PassContext, PassResult } from '../reconciler/pass.js';
import { createPassContext } from './context.js';
import { startRouterSupervisor } from './router-mode.js';
import { startDaemonApi } from './run-api.js';
import { createStatusReporter } from './status-reporter.js';

export async function runCommand(settings: Settings, logger: Logger): Promise<number> {
  const base = await createPassContext(settings, logger);
  const status = createStatusReporter(settings, base, logger);
  const stop = new AbortController();
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stopping after the pass in flight');
    stop.abort();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  const docker = connectDocker().then((c) => c.docker);
  const metrics = new HealMetrics();
  const prober = new Prober({
    now: () => Date.now(),
    run: (r) => runProbe(r.probe.check, { containerId: r.containerId, ip: r.ip }, r.probe.timeoutMs, () => docker),
    onProbeFailure: () => metrics.probeFailed(),
    onReadinessChange: (r, ready) => loop.trigger(`probe: ${r.name} is ${ready ? 'ready' : 'not ready'}`),
    onFailed: (r, health) => {
      // Liveness: it was ready and failed failure_threshold probes in a row. Removing it lets the next pass recreate the slot.
      logger.warn({ stack: r.stack, service: r.service, container: r.name, output: health.lastOutput }, `liveness: ${r.name} failed ${health.failures} probes in a row (${health.lastOutput}); replacing it`);
      metrics.replicaRestarted(r.stack, r.service, 'liveness');
      base.backend.removeContainer(r.containerId)
        .catch((err: unknown) => logger.error({ err, container: r.name }, `cannot remove ${r.name}`))
        .finally(() => loop.trigger(`liveness failure of ${r.name}`));
    },
  });
  const healer = new Healer({
    logger,
    now: () => Date.now(),
    trigger: (reason) => loop.trigger(reason),
    logTail: async (id) => logTail(await docker, id, 5),
    metrics,
    notReady: (c) => prober.isNotReady(c.id),
  });
  const router = await startRouterSupervisor(settings, logger);
  let endpoints: BuiltTable | undefined;
  let pushing = Promise.resolve();
  // Every pass of the daemon, whatever triggered it, feeds the healer, the prober and the routing table.
  const ctx: PassContext = {
    ...base,
    healing: healer.input,
    onPlanned: (planned) => {
      prober.sync(probedReplicas(planned));
      const built = buildRoutingTable(planned.desired, withoutUnready(planned.observed, (id) => prober.isNotReady(id)), settings.httpPort);
      if (built.problems.length > 0 && JSON.stringify(built.problems) !== JSON.stringify(endpoints?.problems)) logger.warn({ problems: built.problems }, 'some routes are left out');
      endpoints = built;
      if (router !== undefined) {
        // One push at a time, in pass order: the router must never go back to an older table.
        pushing = pushing.then(() => router.client.pushTable(built.table)).then(() => undefined, (err: unknown) => logger.warn({ err }, 'cannot push the routing table'));
      }
      healer.planned(planned).catch((err: unknown) => logger.warn({ err }, 'health report failed'));
    },
  };

  const loop: ReconcileLoop = new ReconcileLoop({
    intervalMs: settings.intervalMs,
    logger,
    pass: () => status.around(() => api.pass()),
    onPass: (result) => {
      if (result instanceof Error) return;
      if (result.applied > 0) {
        logger.info({ revision: result.revision, applied: result.applied }, `converged to ${result.revision.slice(0, 7)}`);
        // The snapshot predates what was just applied: look once more so new replicas are probed and reported.
        loop.trigger('observe what the last pass applied');
      }
      healer.afterApply(result);
    },
  });
  const api = await startDaemonApi({ settings, ctx, logger, trigger: (reason) => loop.trigger(reason), endpoints: () => endpoints?.table ?? { l4: [], l7: [] } });
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
  prober.stop();
  await events;
  await pushing;
  // The router keeps serving across operator restarts: it is not stopped with the daemon.
  router?.stop();
  await api.stop();
  logger.info('stopped');
  return 0;
}

/** The snapshot without replicas whose Capstan probe has not (or no longer) passed: they take no traffic. */
function withoutUnready(observed: ObservedState, notReady: (id: string) => boolean): ObservedState {
  return { ...observed, containers: observed.containers.filter((c) => !notReady(c.id)) };
}

/** Running replicas whose service declares x-capstan.probe. */
function probedReplicas(result: Omit<PassResult, 'applied'>): ProbedReplica[] {
  const probes = new Map(result.desired.stacks.flatMap((st) => st.services.map((s) => [`${s.stack}/${s.name}`, s.spec.capstan.probe] as const)));
  return result.observed.containers.flatMap((c) => {
    const probe = probes.get(`${c.stack}/${c.service}`);
    return probe === undefined || c.state !== 'running' ? [] : [{ containerId: c.id, name: c.name, stack: c.stack, service: c.service, ip: c.ip, probe }];
  });
}
