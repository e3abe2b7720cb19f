// The status of each stack after a pass (DESIGN §8), as a pure function of
// the previous status, what the pass found and the time it was given. No I/O
// and no clock of its own: a condition whose status did not change keeps its
// lastTransitionTime, so an idle operator computes byte-identical documents.

import { LABEL } from '../desired/labels.js';
import type { MountSpec } from '../manifests/model.js';
import type { ObservedContainer } from '../observed/model.js';
import type { ServiceHealth, UnhealthyReplica } from './service-health.js';

/** `ScalingLimited`: an autoscaled service has been held at a bound of Git's for longer than its cooldown. */
export type ConditionType = 'Ready' | 'Reconciling' | 'Stalled' | 'Degraded' | 'ScalingLimited';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  /** ISO 8601 without milliseconds, e.g. 2026-11-25T10:00:00Z. */
  lastTransitionTime: string;
}

export interface ServiceStatus {
  image: string;
  specHash: string;
  replicas: { desired: number; running: number; ready: number };
  /** Running replicas failing their readiness check, each with the check and its last output; omitted when none. */
  unhealthy?: readonly UnhealthyReplica[];
  /**
   * Set while a replica crash-loops: its exit code and log lines. The lines
   * are those of the crash that began the loop (see nextStackStatus): newer
   * ones are in /api/status, so a loop does not commit once per crash.
   */
  crashLoop?: { replica: string; exitCode: number | undefined; lastLogLines: readonly string[] };
  /** Data directories of relative binds: container path → path under the data dir (`binds/<stack>/<source>`), kept across revisions, never deleted. */
  dataDirs?: Readonly<Record<string, string>>;
  /** How the last canary or blue-green release of the service ended: promoted, or aborted with why (and the numbers). */
  lastRelease?: { strategy: 'canary' | 'blue-green'; revision: string; result: 'promoted' | 'aborted'; detail?: string; at: string };
}

export interface StackStatus {
  stack: string;
  /** Full sha that runs now; undefined until a revision was applied. */
  lastAppliedRevision: string | undefined;
  lastAttemptedRevision: string | undefined;
  conditions: readonly Condition[];
  /** Keyed by service name, sorted. */
  services: Readonly<Record<string, ServiceStatus>>;
}

export interface OperatorStatus {
  instance: string;
  version: string;
  backend: string;
  /** Message of the last failed pass; undefined once a pass succeeds. */
  lastError: string | undefined;
}

/** What a pass tells status about one stack. */
export type StackOutcome =
  | { kind: 'applied' } // engine matches the revision (or was made to)
  /** `imagePulls`: the failures that are images which could not be pulled (reason ImagePullFailed). */
  | { kind: 'apply-failed'; failures: readonly string[]; imagePulls?: readonly string[] }
  /** A rollout failed and was rolled back (this pass, or earlier and held since); `revert` is the auto-revert commit when one was pushed. */
  | { kind: 'rolled-back'; failures: readonly string[]; revert: string | undefined; reason?: 'RolledBack' | 'CanaryFailed' | 'BlueGreenFailed' }
  | { kind: 'invalid'; problems: readonly string[] }
  | { kind: 'held'; waiting: number } // a closed sync window holds this many changes
  | { kind: 'error'; reason: string; message: string };

/** The order conditions are written in, so files diff cleanly. */
const ORDER: readonly ConditionType[] = ['Ready', 'Reconciling', 'Stalled', 'Degraded', 'ScalingLimited'];

export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isFailingReplica(c: ObservedContainer): boolean {
  return c.state === 'exited' || c.state === 'dead' || c.state === 'restarting';
}

/**
 * `repo:tag@sha256:…`: the tag Git names and the repo digest its replicas
 * were made from (their io.capstan.image-digest label), so status says what
 * runs, not only what was asked for. Git's reference alone while replicas
 * disagree (mid-roll) or carry no digest (images built here).
 */
export function runningImage(image: string, specHash: string, containers: readonly ObservedContainer[]): string {
  if (image.includes('@')) return image;
  const digests = new Set(containers.filter((c) => c.specHash === specHash).map((c) => c.labels[LABEL.imageDigest]));
  const [only] = digests;
  return digests.size === 1 && only !== undefined && only !== '' ? `${image}@${only}` : image;
}

/** Where each data directory of a service lives, below the data dir (see DeployContext.bindsDir). */
export function dataDirsOf(stack: string, volumes: readonly MountSpec[]): Record<string, string> {
  return Object.fromEntries(volumes.filter((m) => m.type === 'bind' && m.persistent === true).map((m) => [m.target, `binds/${stack}/${m.source}`]));
}

/** The services of one stack as status files show them, from their health after the pass. */
export function servicesOf(stack: string, health: readonly ServiceHealth[], specs: ReadonlyMap<string, { image: string; specHash: string; dataDirs?: Readonly<Record<string, string>> }>): Record<string, ServiceStatus> {
  const out: Record<string, ServiceStatus> = {};
  for (const h of health.filter((x) => x.stack === stack).sort((a, b) => (a.service < b.service ? -1 : 1))) {
    const spec = specs.get(h.service);
    if (spec === undefined) continue;
    out[h.service] = {
      image: spec.image,
      specHash: spec.specHash,
      replicas: { desired: h.desired, running: h.running, ready: h.ready },
      ...(h.unhealthy.length > 0 ? { unhealthy: h.unhealthy } : {}),
      ...(h.crashLoop !== undefined ? { crashLoop: h.crashLoop } : {}),
      ...(spec.dataDirs !== undefined && Object.keys(spec.dataDirs).length > 0 ? { dataDirs: spec.dataDirs } : {}),
    };
  }
  return out;
}

type Wanted = Omit<Condition, 'lastTransitionTime'>;

/** Keep the previous transition time of a condition whose status is unchanged. */
function settle(previous: readonly Condition[], wanted: readonly Wanted[], now: string): Condition[] {
  return wanted
    .map((w) => {
      const before = previous.find((p) => p.type === w.type);
      return { ...w, lastTransitionTime: before !== undefined && before.status === w.status ? before.lastTransitionTime : now };
    })
    .sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
}

function summarize(lines: readonly string[], max = 5): string {
  const shown = lines.slice(0, max).join('; ');
  return lines.length > max ? `${shown}; and ${lines.length - max} more` : shown;
}

/**
 * Conditions follow Flux's polarity: Ready is always present; Reconciling,
 * Stalled and Degraded appear only while True, so a healthy stack's file
 * holds one condition and nothing flaps between True and False.
 */
export function stackConditions(outcome: StackOutcome, services: Readonly<Record<string, ServiceStatus>>, observed: readonly ObservedContainer[], revision: string | undefined): Wanted[] {
  const sha = revision?.slice(0, 7) ?? 'unknown';
  switch (outcome.kind) {
    case 'invalid':
      return [
        { type: 'Ready', status: 'False', reason: 'ManifestsInvalid', message: `${sha} is invalid; the last good revision keeps running` },
        { type: 'Stalled', status: 'True', reason: 'ManifestsInvalid', message: summarize(outcome.problems) },
      ];
    case 'apply-failed': {
      // What does run can crash-loop meanwhile: say so too. An image that cannot be pulled degrades the stack: its service stays as it was.
      const pulls = outcome.imagePulls ?? [];
      const degraded = pulls.length > 0 ? { reason: 'ImagePullFailed', message: `${summarize(pulls)}; what runs keeps running` } : healthProblem(services, observed);
      return [
        { type: 'Ready', status: 'False', reason: pulls.length > 0 ? 'ImagePullFailed' : 'ApplyFailed', message: summarize(outcome.failures) },
        { type: 'Reconciling', status: 'True', reason: 'RetryingApply', message: `applying ${sha} failed; retrying` },
        ...(degraded === undefined ? [] : [{ type: 'Degraded' as const, status: 'True' as const, ...degraded }]),
      ];
    }
    case 'rolled-back':
      return [
        { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: summarize(outcome.failures) },
        {
          type: 'Degraded', status: 'True', reason: outcome.reason ?? 'RolledBack',
          message: outcome.revert === undefined ? `${sha} was rolled back: ${summarize(outcome.failures)}` : `${sha} failed to apply; reverted by ${outcome.revert.slice(0, 7)}`,
        },
      ];
    case 'error':
      return [{ type: 'Ready', status: 'False', reason: outcome.reason, message: outcome.message }];
    case 'held':
      return [
        { type: 'Ready', status: 'False', reason: 'SyncWindowClosed', message: 'changes wait for a sync window to open' },
        { type: 'Reconciling', status: 'True', reason: 'SyncWindowClosed', message: `${outcome.waiting} change${outcome.waiting === 1 ? '' : 's'} wait` },
      ];
    case 'applied': {
      const names = Object.keys(services);
      const ready = names.filter((n) => {
        const s = services[n];
        return s !== undefined && s.replicas.ready >= s.replicas.desired;
      });
      const counts = `${ready.length}/${names.length} services ready`;
      const degraded = healthProblem(services, observed);
      if (degraded !== undefined) {
        return [
          { type: 'Ready', status: 'False', reason: degraded.reason, message: counts },
          { type: 'Degraded', status: 'True', ...degraded },
        ];
      }
      if (ready.length < names.length) {
        const waiting = names.filter((n) => !ready.includes(n)).map((n) => `${n} ${services[n]?.replicas.ready ?? 0}/${services[n]?.replicas.desired ?? 0}`);
        return [
          { type: 'Ready', status: 'False', reason: 'Progressing', message: counts },
          { type: 'Reconciling', status: 'True', reason: 'Progressing', message: `waiting for replicas: ${summarize(waiting)}` },
        ];
      }
      return [{ type: 'Ready', status: 'True', reason: 'Converged', message: counts }];
    }
  }
}

/** Replicas crash-looping, stopped, or running but failing their readiness check: the worst names the reason, the message lists them all. */
function healthProblem(services: Readonly<Record<string, ServiceStatus>>, observed: readonly ObservedContainer[]): { reason: string; message: string } | undefined {
  const all = Object.values(services);
  const looping = all.flatMap((s) => (s.crashLoop === undefined ? [] : [s.crashLoop]));
  const stopped = observed.filter((c) => isFailingReplica(c) && !looping.some((l) => l.replica === c.name)).map((c) => `${c.name} ${c.state}`);
  const unready = all.flatMap((s) => s.unhealthy ?? []).map((u) => `${u.replica} fails ${u.probe}${u.output === '' ? '' : `: ${u.output}`}`);
  const reason = looping.length > 0 ? 'CrashLoop' : stopped.length > 0 ? 'ReplicasFailing' : unready.length > 0 ? 'Unready' : undefined;
  if (reason === undefined) return undefined;
  return { reason, message: summarize([...looping.map((l) => `${l.replica} is crash-looping (exit code ${l.exitCode ?? '?'})`), ...stopped, ...unready]) };
}

export interface StackInput {
  stack: string;
  /** The revision this pass tried (undefined when it could not even resolve one). */
  revision: string | undefined;
  outcome: StackOutcome;
  /** Current services; undefined keeps the previous ones (a pass that could not look). */
  services: Readonly<Record<string, ServiceStatus>> | undefined;
  /** The stack's containers in the snapshot, for failing replicas. */
  containers: readonly ObservedContainer[];
  /** The stack runs `revision` as Git has it, every replica ready: only then does lastAppliedRevision move (DESIGN §4). */
  converged: boolean;
  /** Autoscaled services held at a bound for longer than their cooldown. */
  scaling?: readonly { service: string; bound: 'min' | 'max'; limit: number }[];
  /** Canary and blue-green releases that ended in this pass (`at` in ms). */
  releases?: readonly { service: string; strategy: 'canary' | 'blue-green'; revision: string; result: 'promoted' | 'aborted'; detail: string | undefined; at: number }[];
}

export function nextStackStatus(previous: StackStatus | undefined, input: StackInput, nowMs: number): StackStatus {
  const applied = input.converged && input.outcome.kind === 'applied';
  const services = withReleases(input.services === undefined ? previous?.services ?? {} : keepLoopLogs(previous?.services ?? {}, input.services), previous?.services ?? {}, input.releases ?? []);
  return {
    stack: input.stack,
    lastAppliedRevision: applied ? input.revision : previous?.lastAppliedRevision,
    lastAttemptedRevision: input.revision ?? previous?.lastAttemptedRevision,
    conditions: settle(previous?.conditions ?? [], [...stackConditions(input.outcome, services, input.containers, input.revision), ...scalingCondition(input.scaling ?? [])], isoSeconds(nowMs)),
    services,
  };
}

/** One condition for the stack's services held at a bound; the message names the bound, never the changing load, so it commits once. */
function scalingCondition(limited: NonNullable<StackInput['scaling']>): Wanted[] {
  if (limited.length === 0) return [];
  const reason = limited.some((l) => l.bound === 'max') ? 'AtMaximum' : 'AtMinimum';
  const lines = [...limited].sort((a, b) => (a.service < b.service ? -1 : 1)).map((l) => `${l.service} is held at autoscale.${l.bound} ${l.limit} (its load asks for ${l.bound === 'max' ? 'more' : 'fewer'})`);
  return [{ type: 'ScalingLimited', status: 'True', reason, message: summarize(lines) }];
}

/** A service keeps the outcome of its last release until the next one ends. */
function withReleases(services: Readonly<Record<string, ServiceStatus>>, previous: Readonly<Record<string, ServiceStatus>>, releases: NonNullable<StackInput['releases']>): Record<string, ServiceStatus> {
  return Object.fromEntries(Object.entries(services).map(([name, s]) => {
    const ended = releases.filter((r) => r.service === name).pop();
    const lastRelease = ended === undefined
      ? s.lastRelease ?? previous[name]?.lastRelease
      : { strategy: ended.strategy, revision: ended.revision, result: ended.result, ...(ended.detail === undefined ? {} : { detail: ended.detail }), at: isoSeconds(ended.at) };
    return [name, lastRelease === undefined ? s : { ...s, lastRelease }];
  }));
}

/**
 * While the same replica crash-loops with the same exit code, its log lines
 * stay those of the crash that began the loop: a log line with a timestamp
 * or counter would otherwise make every crash a status commit.
 */
function keepLoopLogs(previous: Readonly<Record<string, ServiceStatus>>, next: Readonly<Record<string, ServiceStatus>>): Record<string, ServiceStatus> {
  return Object.fromEntries(Object.entries(next).map(([name, s]) => {
    const before = previous[name]?.crashLoop;
    const same = before !== undefined && s.crashLoop !== undefined && before.replica === s.crashLoop.replica && before.exitCode === s.crashLoop.exitCode;
    return [name, same ? { ...s, crashLoop: before } : s];
  }));
}

export function isReady(status: StackStatus): boolean {
  return status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The condition worth naming in a commit subject: Stalled, then Degraded, then Ready or not. */
export function headline(status: StackStatus): string {
  if (status.conditions.some((c) => c.type === 'Stalled' && c.status === 'True')) return 'Stalled';
  if (status.conditions.some((c) => c.type === 'Degraded' && c.status === 'True')) return 'Degraded';
  if (isReady(status)) return 'Ready';
  return status.conditions.some((c) => c.type === 'Reconciling' && c.status === 'True') ? 'Reconciling' : 'NotReady';
}
