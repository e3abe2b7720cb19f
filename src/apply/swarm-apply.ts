// Runs a swarm plan: phases in order, operations of a phase in parallel up to
// a bound, each one engine call, then waits for what Swarm does with it. A
// created or scaled service is done when its tasks run; an updated one when
// Swarm's rolling update (update_config) completes. Swarm's own verdicts are
// reported as they are: `rollback_completed` is a failed deploy rolled back,
// `paused` a failed deploy left paused — never a success — and the revision
// is held (not retried) like a failed rollout of the docker backend.

import type { AuthConfig } from 'dockerode';
import type { DeployContext } from '../backends/backend.js';
import { swarmServiceSpec } from '../backends/swarm/service-spec.js';
import type { ServiceProgress, SwarmEngine } from '../backends/swarm/swarm-engine.js';
import { LABEL } from '../desired/labels.js';
import type { DesiredService } from '../desired/model.js';
import { STACK_NAMESPACE_LABEL } from '../desired/swarm-names.js';
import { RolloutFailedError, type RolloutEnd } from '../errors.js';
import type { Operation, Plan } from '../plan/operations.js';
import { describeOperation } from '../plan/render.js';
import { forEachBounded, phasesOf, type ApplyOptions, type ApplyOutcome } from './executor.js';

/** The registry credentials for an image, passed to Swarm like `--with-registry-auth` so every node can pull it. */
export type RegistryAuth = (image: string) => Promise<AuthConfig | undefined>;

type UpdateOp = Extract<Operation, { kind: 'update-service' }>;

/** How often the manager is asked while Swarm works; a task start is ~1 s, so this costs little latency. */
const POLL_MS = 250;
/** Slack on top of what update_config allows: scheduling, image checks, a slow manager. */
const SLACK_MS = 30_000;
/** How long a network whose tasks are still stopping may refuse removal. */
const NETWORK_DRAIN_MS = 20_000;

export async function applySwarmPlan(plan: Plan, engine: SwarmEngine, ctx: DeployContext, opts: ApplyOptions, auth: RegistryAuth = async () => undefined): Promise<ApplyOutcome> {
  const watch = batchedProgress(engine);
  const failures: ApplyOutcome['failed'][number][] = [];
  let applied = 0;
  const needsIds = plan.operations.some((op) => op.kind === 'create-service' || op.kind === 'update-service' || op.kind === 'scale-service');
  const ids = needsIds ? await engine.fileIds(ctx.instance) : new Map<string, string>();
  const fileId = (kind: 'secret' | 'config', name: string): string => {
    const id = ids.get(`${kind}\u0000${name}`);
    // The plan creates every file a service uses before the service; a miss means that creation failed.
    if (id === undefined) throw new Error(`${kind} ${name} is not in the swarm (its creation failed above)`);
    return id;
  };
  const specOf = (service: DesiredService) => swarmServiceSpec(service, { instance: ctx.instance, revision: ctx.revision, fileId });

  const execute = async (op: Operation): Promise<void> => {
    switch (op.kind) {
      case 'create-network': return engine.createNetwork(op.stack, op.network, ctx.instance);
      case 'remove-network': return removeNetwork(engine, op.networkId, opts);
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
        if (!(await engine.removeFile(kind, op.fileId))) opts.logger.info({ stack: op.stack }, `kept ${kind} ${op.name}: a service still uses it (a rollback brought it back); a later pass removes it`);
        return;
      }
      case 'create-service': {
        const id = await engine.createService(specOf(op.service), await auth(op.service.spec.image));
        return waitRunning(watch, id, op.service, opts, 'start');
      }
      case 'scale-service': {
        await engine.updateService(op.serviceId, op.version, specOf({ ...op.service, spec: { ...op.service.spec, replicas: op.replicas.to } }), await auth(op.service.spec.image));
        return waitRunning(watch, op.serviceId, op.service, opts, 'scale');
      }
      case 'update-service': return updateService(engine, watch, op, specOf, ctx, opts, auth);
      case 'remove-service': return engine.removeService(op.serviceId);
      default:
        // The swarm plan has no containers of its own (plan/swarm.ts).
        throw new Error(`the swarm backend cannot ${op.kind}`);
    }
  };

  for (const phase of phasesOf(plan.operations)) {
    await forEachBounded(phase, opts.parallelism, async (op) => {
      const line = describeOperation(op);
      try {
        await execute(op);
        applied++;
        opts.logger.info({ stack: op.stack, op: op.kind }, line);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        failures.push({ operation: line, error, stack: op.stack });
        opts.logger.error({ stack: op.stack, op: op.kind, err: error }, `failed: ${line}`);
      }
    });
  }
  return { applied, failed: failures };
}

/**
 * Hands the new spec to Swarm and follows its rolling update to the end. A
 * failure Swarm rolled back (or paused) is recorded as held, so the revision
 * is not tried again until a new commit or `apply --force`.
 */
async function updateService(
  engine: SwarmEngine,
  watch: Watch,
  op: UpdateOp,
  specOf: (service: DesiredService) => ReturnType<typeof swarmServiceSpec>,
  ctx: DeployContext,
  opts: ApplyOptions,
  auth: RegistryAuth,
): Promise<void> {
  const { held, now, sleep } = opts.rollout;
  const service = op.service;
  const before = await watch(op.serviceId, service.specHash);
  await engine.updateService(op.serviceId, op.version, specOf(service), await auth(service.spec.image));
  const budget = updateBudgetMs(service, Math.max(before?.desired ?? 0, service.spec.replicas));
  const deadline = now() + budget;
  const label = `${service.stack}/${service.name}`;
  let completedAt: number | undefined;
  for (;;) {
    const p = await watch(op.serviceId, service.specHash);
    if (p === undefined) throw new Error(`service ${op.name} disappeared during its update`);
    // Until Swarm starts this update, its status is the previous one's.
    const ours = p.update !== undefined && p.update.startedAt !== before?.update?.startedAt;
    const end = ours ? failedEnd(p) : undefined;
    if (end !== undefined) {
      const reason = failureReason(p);
      // `back`: the way back itself failed; nothing else to return to.
      const restored = end === 'rolled-back' && op.direction === 'forward' ? op.previous : undefined;
      await held.hold({ stack: service.stack, service: service.name, revision: ctx.revision, specHash: service.specHash, end, reason, restored, at: now() });
      throw new RolloutFailedError(service.stack, service.name, ctx.revision, end, reason);
    }
    if (ours && p.update?.state === 'completed') {
      if (p.specHash === service.specHash && p.running >= wantedTasks(service, p)) {
        await held.release(service.stack, service.name);
        return;
      }
      // Swarm finished (its monitor window passed), yet tasks of the new spec do not all run: they fail after the window.
      completedAt ??= now();
      if (now() - completedAt > service.spec.capstan.progressDeadlineMs) {
        throw new Error(`${label}: Swarm completed the update, but ${p.running}/${wantedTasks(service, p)} tasks run the new spec${p.taskError === undefined ? '' : ` (${p.taskError})`}; a longer update_config.monitor lets Swarm roll such a failure back`);
      }
    }
    if (now() > deadline) {
      throw new Error(`${label}: Swarm did not finish the update within ${Math.round(budget / 1000)} s (${p.running}/${wantedTasks(service, p)} tasks on the new spec${p.update === undefined ? '' : `, update ${p.update.state ?? '?'}`}${p.taskError === undefined ? '' : `: ${p.taskError}`})`);
    }
    await sleep(POLL_MS);
  }
}

/** Replicated: the count in Git; global: what Swarm wants (one per eligible node). */
function wantedTasks(service: DesiredService, p: ServiceProgress): number {
  return service.spec.mode === 'global' ? p.desired : service.spec.replicas;
}

function failedEnd(p: ServiceProgress): RolloutEnd | undefined {
  switch (p.update?.state) {
    case 'rollback_completed': return 'rolled-back';
    case 'paused': return 'paused';
    case 'rollback_paused': return 'rollback-failed';
    default: return undefined;
  }
}

/** The failed task's error says why ("task: non-zero exit (3)"); Swarm's own message only what it did about it. */
function failureReason(p: ServiceProgress): string {
  const swarm = p.update?.message ?? '';
  if (p.taskError === undefined) return swarm || 'update failed';
  return `new tasks failed: ${p.taskError} (Swarm: ${swarm || p.update?.state || 'update failed'})`;
}

/** Every batch may take the progress deadline plus monitor and delay; Swarm's own timers run inside that. */
function updateBudgetMs(service: DesiredService, tasks: number): number {
  const u = service.spec.update;
  const r = service.spec.rollback;
  const batches = (c: typeof u): number => (c.parallelism === 0 ? 1 : Math.ceil(Math.max(tasks, 1) / c.parallelism));
  const per = (c: typeof u): number => service.spec.capstan.progressDeadlineMs + c.monitorMs + c.delayMs;
  return batches(u) * per(u) + batches(r) * per(r) + SLACK_MS;
}

/** A new or scaled service is done when every task Swarm wants runs the current spec; bounded by the progress deadline. */
async function waitRunning(watch: Watch, serviceId: string, service: DesiredService, opts: ApplyOptions, what: 'start' | 'scale'): Promise<void> {
  const { now, sleep } = opts.rollout;
  const deadline = now() + service.spec.capstan.progressDeadlineMs + SLACK_MS;
  for (;;) {
    const p = await watch(serviceId, service.specHash);
    if (p === undefined) throw new Error(`service ${service.stack}_${service.name} disappeared`);
    if (p.running >= wantedTasks(service, p)) return;
    if (now() > deadline) {
      throw new Error(`${service.stack}/${service.name}: ${p.running}/${wantedTasks(service, p)} tasks running ${what === 'start' ? 'after creating the service' : 'after scaling'}${p.taskError === undefined ? '' : ` (${p.taskError})`}`);
    }
    await sleep(POLL_MS);
  }
}

/** How one service's rollout of `specHash` fares; undefined once the service is gone. */
type Watch = (serviceId: string, specHash: string) => Promise<ServiceProgress | undefined>;

/**
 * One service's progress, where every call made in the same tick (the
 * services of a phase waiting side by side) is answered by one progress()
 * call for all of them.
 */
function batchedProgress(engine: SwarmEngine): Watch {
  let queue: { serviceId: string; specHash: string; resolve: (p: ServiceProgress | undefined) => void; reject: (e: unknown) => void }[] = [];
  const flush = (): void => {
    const batch = queue;
    queue = [];
    engine.progress(batch).then(
      (answers) => batch.forEach((q, i) => q.resolve(answers[i])),
      (err: unknown) => batch.forEach((q) => q.reject(err)),
    );
  };
  return (serviceId, specHash) => new Promise<ServiceProgress | undefined>((resolve, reject) => {
    if (queue.length === 0) setImmediate(flush);
    queue.push({ serviceId, specHash, resolve, reject });
  });
}

/** Right after its services go, a network may still hold endpoints of stopping tasks: retry a little. */
async function removeNetwork(engine: SwarmEngine, networkId: string, opts: ApplyOptions): Promise<void> {
  const { now, sleep } = opts.rollout;
  const deadline = now() + NETWORK_DRAIN_MS;
  for (;;) {
    try {
      return await engine.removeNetwork(networkId);
    } catch (err) {
      if (now() > deadline || !(err instanceof Error) || !/active endpoints|in use/i.test(err.message)) throw err;
      await sleep(POLL_MS);
    }
  }
}
