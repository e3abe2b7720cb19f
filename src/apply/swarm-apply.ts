// Runs one lane pass of a stack's swarm plan: phases in order, operations of
// a phase side by side up to a bound, each one engine call; nothing waits on
// Swarm. Swarm's rolling updates keep their state in Swarm (UpdateStatus),
// so the lane follows them pass by pass (plan.engineRollouts): one under way
// asks for the next pass soon; one Swarm ended in `rollback_completed`,
// `paused` or `rollback_paused` is a failed deploy — never a success — and is
// held (not retried until a new commit or `apply --force`) like a failed
// rollout of the docker backend.

import type { DeployContext } from '../backends/backend.js';
import { swarmServiceSpec } from '../backends/swarm/service-spec.js';
import type { EngineAuth, SwarmEngine } from '../backends/swarm/swarm-engine.js';
import { LABEL } from '../desired/labels.js';
import type { DesiredService } from '../desired/model.js';
import { STACK_NAMESPACE_LABEL } from '../desired/swarm-names.js';
import { RolloutFailedError } from '../errors.js';
import type { EngineRollout, Operation } from '../plan/operations.js';
import { describeOperation, serviceOf } from '../plan/render.js';
import type { RolloutProgress } from '../strategies/step.js';
import { failureRecorder, forEachBounded, phasesOf, rolloutFailure, type ApplyOptions, type StackApplyInput, type StackApplyResult } from './executor.js';

/** The registry credentials for an image, passed to Swarm like `--with-registry-auth` so every node can pull it. */
export type RegistryAuth = (image: string) => Promise<EngineAuth | undefined>;

/** How soon a lane looks again while Swarm rolls; a task start is ~1 s, so this costs little latency. */
const POLL_MS = 500;
/** Slack on top of what update_config allows: scheduling, image checks, a slow manager. */
const SLACK_MS = 30_000;
/** How long a network whose tasks are still stopping may refuse removal before it counts as a failure. */
const NETWORK_DRAIN_MS = 20_000;

export async function applySwarmStack(input: StackApplyInput, engine: SwarmEngine, ctx: DeployContext, opts: ApplyOptions, auth: RegistryAuth): Promise<StackApplyResult> {
  const { plan } = input;
  const result: StackApplyResult = { applied: 0, done: [], failures: [], records: new Map(), superseded: [], progress: [], finished: 0, waiting: [], underway: 0, wakeAt: undefined, commands: new Map(), outcomes: [] };
  const fail = failureRecorder(result, opts);
  const now = opts.rollout.now();
  const wake = (at: number): void => {
    result.wakeAt = Math.min(result.wakeAt ?? at, at);
  };

  // Swarm's own rolling updates: followed while under way, a failure reported once and then held.
  const services = new Map((input.desired?.services ?? []).map((s) => [s.name, s]));
  for (const r of plan.engineRollouts ?? []) {
    const service = services.get(r.service);
    if (r.state === 'rolling' || r.state === 'settling') {
      const budget = service === undefined ? SLACK_MS : updateBudgetMs(service, r.tasks.desired);
      if (now - r.since <= budget) {
        result.underway++;
        result.progress.push(progressOf(r, ctx.revision, now));
        wake(now + POLL_MS);
      } else if (r.state === 'rolling') {
        // Swarm says it still rolls, long past what update_config allows: say so (its own failure_action may still come).
        const error = new Error(`${r.stack}/${r.service}: Swarm did not finish the update within ${Math.round(budget / 1000)} s (${r.tasks.running}/${r.tasks.desired} tasks on the new spec${r.reason === '' ? '' : `: ${r.reason}`})`);
        fail({ id: `rollout:${r.stack}/${r.service}`, reason: 'rollout', stack: r.stack, service: r.service, line: `rolling update of ${r.stack}/${r.service}`, error }, 'rollout');
      }
      continue;
    }
    const restored = r.direction === 'forward' ? r.restored : undefined;
    await opts.rollout.held.hold({ stack: r.stack, service: r.service, revision: ctx.revision, specHash: r.specHash, end: r.state, reason: r.reason, restored, at: now });
    result.finished++;
    fail(rolloutFailure(new RolloutFailedError(r.stack, r.service, ctx.revision, r.state, r.reason)), 'rollout');
  }

  const needsIds = plan.operations.some((op) => op.kind === 'create-service' || op.kind === 'update-service' || op.kind === 'scale-service');
  const ids = needsIds ? await engine.fileIds(ctx.instance) : new Map<string, string>();
  const fileId = (kind: 'secret' | 'config', name: string): string => {
    const id = ids.get(`${kind}\u0000${name}`);
    // The plan creates every file a service uses before the service; a miss means that creation failed.
    if (id === undefined) throw new Error(`${kind} ${name} is not in the swarm (its creation failed above)`);
    return id;
  };
  const specOf = (service: DesiredService) => swarmServiceSpec(service, { instance: ctx.instance, revision: ctx.revision, fileId });

  /** 'later': nothing done yet, a later pass tries again. */
  const execute = async (op: Operation): Promise<void | 'later'> => {
    switch (op.kind) {
      case 'create-network': return engine.createNetwork(op.stack, op.network, ctx.instance);
      case 'remove-network': return removeNetwork(engine, op.networkId, op.stack, now, opts);
      case 'create-secret':
      case 'create-config': {
        const kind = op.kind === 'create-secret' ? 'secret' : 'config';
        if (ctx.readContent === undefined) throw new Error(`${kind} ${op.name} needs a content reader`);
        const labels = { [STACK_NAMESPACE_LABEL]: op.stack, [LABEL.instance]: ctx.instance, [LABEL.stack]: op.stack, [LABEL.file]: op.file.name };
        ids.set(`${kind}\u0000${op.name}`, await engine.createFile(kind, op.name, labels, await ctx.readContent(op.file)));
        return;
      }
      case 'remove-secret':
      case 'remove-config': {
        const kind = op.kind === 'remove-secret' ? 'secret' : 'config';
        // Still used while Swarm rolls the service off it (or back onto it): a later pass removes it.
        if (await engine.removeFile(kind, op.fileId)) return;
        opts.logger.debug({ stack: op.stack }, `kept ${kind} ${op.name}: a service still uses it; a later pass removes it`);
        wake(now + POLL_MS);
        return 'later';
      }
      case 'create-service':
        await engine.createService(specOf(op.service), await auth(op.service.spec.image));
        return;
      case 'scale-service':
        await engine.updateService(op.serviceId, op.version, specOf({ ...op.service, spec: { ...op.service.spec, replicas: op.replicas.to } }), await auth(op.service.spec.image));
        return followUp();
      case 'update-service':
        // Swarm rolls it out by update_config; the next passes follow its UpdateStatus.
        await engine.updateService(op.serviceId, op.version, specOf(op.service), await auth(op.service.spec.image));
        return followUp();
      case 'remove-service': return engine.removeService(op.serviceId);
      default:
        // The swarm plan has no containers of its own (plan/swarm.ts).
        throw new Error(`the swarm backend cannot ${op.kind}`);
    }
  };
  const followUp = (): void => {
    result.underway++;
    wake(now + POLL_MS);
  };

  for (const phase of phasesOf(plan.operations)) {
    await forEachBounded(phase, opts.parallelism, async (op) => {
      const line = describeOperation(op);
      try {
        if ((await execute(op)) === 'later') return;
        result.applied++;
        result.done.push(op.id);
        opts.logger.info({ stack: op.stack, op: op.kind, reason: op.reason }, line);
      } catch (err) {
        fail({ id: op.id, reason: op.reason, stack: op.stack, service: serviceOf(op) ?? undefined, line, error: err instanceof Error ? err : new Error(String(err)) }, op.kind);
      }
    });
  }
  return result;
}

/** What /api/status and the dashboard show of Swarm's rolling update. */
function progressOf(r: EngineRollout, revision: string, now: number): RolloutProgress {
  return {
    id: `${r.stack}/${r.service}@${r.specHash.slice(0, 12)}`,
    stack: r.stack, service: r.service, strategy: 'swarm', revision, direction: r.direction,
    batch: r.tasks.running, batches: Math.max(r.tasks.desired, 1),
    phase: r.state === 'rolling' ? `Swarm ${r.direction === 'back' ? 'rolls back' : 'updates'}${r.reason === '' ? '' : `: ${r.reason}`}` : 'Swarm starts tasks',
    since: r.since, nextStepAt: now + POLL_MS,
  };
}

/** Every batch may take the progress deadline plus monitor and delay; Swarm's own timers run inside that. */
function updateBudgetMs(service: DesiredService, tasks: number): number {
  const u = service.spec.update;
  const r = service.spec.rollback;
  const batches = (c: typeof u): number => (c.parallelism === 0 ? 1 : Math.ceil(Math.max(tasks, 1) / c.parallelism));
  const per = (c: typeof u): number => service.spec.capstan.progressDeadlineMs + c.monitorMs + c.delayMs;
  return batches(u) * per(u) + batches(r) * per(r) + SLACK_MS;
}

/** Right after its services go, a network may still hold endpoints of stopping tasks: it stays for a later pass, within reason. */
async function removeNetwork(engine: SwarmEngine, networkId: string, stack: string, now: number, opts: ApplyOptions): Promise<void> {
  const started = now;
  for (;;) {
    try {
      return await engine.removeNetwork(networkId);
    } catch (err) {
      if (opts.rollout.now() - started > NETWORK_DRAIN_MS || !(err instanceof Error) || !/active endpoints|in use/i.test(err.message)) throw err;
      opts.logger.debug({ stack }, 'network still has endpoints of stopping tasks; trying again');
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
