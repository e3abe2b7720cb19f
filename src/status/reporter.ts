// After every pass: turn its result (or error) into status documents, keep
// them (and each service's live health) for the HTTP API, log services whose
// health changed, and commit the documents to the status branch when their
// content changed. An idle pass costs no I/O here: documents are compared in
// memory with what was last written. Status never fails a pass: its own
// errors are logged, and the next pass tries again.

import type { DesiredState } from '../desired/model.js';
import { ApplyError, CapstanError, ImagePullError, ManifestsInvalidError, RolloutFailedError } from '../errors.js';
import type { HeldRollout } from '../strategies/rolling.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedState } from '../observed/model.js';
import type { PushedCommit } from '../source/rollback.js';
import { operatorStatusAfter, stackStatusesAfter, type PassReport } from './from-pass.js';
import type { GitStatusWriter } from './git-writer.js';
import { headline, type OperatorStatus, type StackStatus } from './model.js';
import { OPERATOR_FILE, parseStackStatus, renderOperatorStatus, renderStackStatus, stackFile, STATUS_DIR } from './render.js';
import { assessServices, type HealthFacts, type ServiceHealth } from './service-health.js';

/** How long status that failed to push waits before the same content is tried again. */
const RETRY_UNCHANGED_MS = 60_000;

/** What a pass hands to status: its result, or the error it ended with. */
export type PassOutcome =
  | {
      revision: string;
      applied: number;
      desired: DesiredState;
      observed: ObservedState;
      plan: { operations: readonly { stack: string }[]; heldRollouts: readonly HeldRollout[] };
      /** Set when a closed sync window held the planned operations. */
      held?: string;
    }
  | Error;

export interface StatusReporterOptions {
  instance: string;
  version: string;
  backend: string;
  /** Undefined with `--status-branch none`: status is kept for the API only. */
  writer: Pick<GitStatusWriter, 'read' | 'write'> | undefined;
  /** A fresh snapshot, taken only after a pass that changed the engine (ready counts) or failed applying. */
  observe: () => Promise<ObservedState>;
  loadDesired: (revision: string) => Promise<DesiredState>;
  /** Set with --auto-revert: pushes the revert of a failed revision, or undefined when it must not (see autoRevertCandidate). */
  autoRevert: ((revision: string, reason: string) => Promise<PushedCommit | undefined>) | undefined;
  /** The daemon's probes and crash loops; one-shot commands have none, and count replicas from the snapshot alone. */
  health?: () => Promise<HealthFacts>;
  /** Told the documents of every pass as soon as they are made, and the auto-revert pushed in it (deploy events come from them). */
  onReported?: (stacks: readonly StackStatus[], revert: string | undefined) => void;
  logger: Logger;
  now: () => number;
}

/** The documents of the last pass, as `GET /api/status` and `capstan status` show them. */
export interface StatusSnapshot {
  stacks: readonly StackStatus[];
  operator: OperatorStatus;
  /** When the last pass ended (ms since epoch); kept out of Git, where it would make a commit per pass. */
  lastSyncTime: number | undefined;
  /** Each service's health at the last pass that looked at the engine, with what changes too often for Git. */
  health: readonly ServiceHealth[];
}

export class StatusReporter {
  private stacks: Map<string, StackStatus> | undefined;
  /** Files as last committed (or found on the branch): what an idle pass is compared with. */
  private written = new Map<string, string>();
  private operator: OperatorStatus;
  private lastSyncTime: number | undefined;
  private health: readonly ServiceHealth[] = [];
  /** The health line last logged per service: a service is logged when it changes, not every pass. */
  private readonly logged = new Map<string, string>();
  /** Revisions already auto-reverted by this process: never twice. */
  private readonly reverted = new Set<string>();
  private readonly rendered = new Map<string, { key: string; text: string }>();
  /** The files of the last failed write, and when it failed. */
  private failed: { key: string; at: number } | undefined;

  constructor(private readonly opts: StatusReporterOptions) {
    this.operator = { instance: opts.instance, version: opts.version, backend: opts.backend, lastError: undefined };
  }

  snapshot(): StatusSnapshot {
    return { stacks: [...(this.stacks?.values() ?? [])], operator: this.operator, lastSyncTime: this.lastSyncTime, health: this.health };
  }

  /** Runs a pass and reports how it ended; the pass's own result or error is passed on unchanged. */
  async around<R extends Exclude<PassOutcome, Error>>(pass: () => Promise<R>): Promise<R> {
    let result: R;
    try {
      result = await pass();
    } catch (err) {
      await this.report(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    await this.report(result);
    return result;
  }

  /** Never throws. */
  async report(outcome: PassOutcome): Promise<void> {
    try {
      await this.reportOrThrow(outcome);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.opts.logger.warn({ err: error, code: error instanceof CapstanError ? error.code : undefined }, `status not written: ${error.message}`);
    }
  }

  private async reportOrThrow(outcome: PassOutcome): Promise<void> {
    const previous = await this.previous();
    const report = await this.toReport(outcome, previous);
    const now = this.opts.now();
    this.lastSyncTime = now;
    if (report.kind === 'converged' || report.kind === 'apply-failed') {
      this.health = report.health;
      this.logHealth(report.health);
    }
    const next = stackStatusesAfter(previous, report, now);
    this.stacks = next;
    this.operator = operatorStatusAfter({ instance: this.opts.instance, version: this.opts.version, backend: this.opts.backend }, report);
    this.opts.onReported?.([...next.values()], report.kind === 'apply-failed' ? report.revert : undefined);

    const files = new Map<string, string>([[OPERATOR_FILE, renderOperatorStatus(this.operator)]]);
    for (const status of next.values()) files.set(stackFile(status.stack), this.render(status));
    const removed = [...this.written.keys()].filter((path) => !files.has(path));
    if (removed.length === 0 && [...files].every(([path, content]) => this.written.get(path) === content)) return;
    if (this.opts.writer === undefined) {
      this.written = files;
      return;
    }
    // The same content failed to push a moment ago (say, a read-only token): idle passes must not hammer the server.
    const key = JSON.stringify([...files, removed]);
    if (this.failed?.key === key && now - this.failed.at < RETRY_UNCHANGED_MS) return;
    const revision = revisionOf(report);
    let oid: string | undefined;
    try {
      oid = await this.opts.writer.write(files, removed, (changed) => commitMessage(changed, next, revision, this.opts.instance));
    } catch (err) {
      this.failed = { key, at: now };
      throw err;
    }
    this.failed = undefined;
    this.written = files;
    if (oid !== undefined) this.opts.logger.info({ commit: oid, revision }, `status committed at ${oid.slice(0, 7)}`);
  }

  /** YAML rendering costs ~0.2 ms a stack; an idle pass's statuses equal the last ones, so reuse their text. */
  private render(status: StackStatus): string {
    const key = JSON.stringify(status);
    const cached = this.rendered.get(status.stack);
    if (cached?.key === key) return cached.text;
    const text = renderStackStatus(status);
    this.rendered.set(status.stack, { key, text });
    return text;
  }

  /** The stacks' status before this pass: in memory, or (first pass) read back from the branch. */
  private async previous(): Promise<Map<string, StackStatus>> {
    if (this.stacks !== undefined) return this.stacks;
    const stacks = new Map<string, StackStatus>();
    if (this.opts.writer !== undefined) {
      const files = await this.opts.writer.read();
      for (const [path, text] of files) {
        const status = path === OPERATOR_FILE ? undefined : parseStackStatus(text);
        if (status !== undefined && path === stackFile(status.stack)) stacks.set(status.stack, status);
      }
      this.written = new Map([...files].filter(([path]) => path.startsWith(`${STATUS_DIR}/`)));
    }
    this.stacks = stacks;
    return stacks;
  }

  private async toReport(outcome: PassOutcome, previous: ReadonlyMap<string, StackStatus>): Promise<PassReport> {
    if (!(outcome instanceof Error)) {
      // Containers just created are seen starting only by a new look; a no-op pass reuses its snapshot.
      const observed = outcome.applied > 0 ? await this.opts.observe() : outcome.observed;
      const windowHeld = new Map<string, number>();
      if (outcome.held !== undefined) for (const op of outcome.plan.operations) windowHeld.set(op.stack, (windowHeld.get(op.stack) ?? 0) + 1);
      return { kind: 'converged', desired: outcome.desired, observed, health: await this.assess(outcome.desired, observed), held: outcome.plan.heldRollouts, windowHeld };
    }
    if (outcome instanceof ManifestsInvalidError) {
      const revision = typeof outcome.data['revision'] === 'string' ? outcome.data['revision'] : undefined;
      return { kind: 'invalid', revision, problems: outcome.errors.map((e) => e.format()) };
    }
    if (outcome instanceof ApplyError && outcome.revision !== undefined) {
      const [desired, observed] = await Promise.all([this.opts.loadDesired(outcome.revision), this.opts.observe()]);
      const failures = outcome.failures.map((f) => ({
        stack: f.stack,
        message: f.error instanceof RolloutFailedError || f.error instanceof ImagePullError ? f.error.message : `${f.operation}: ${f.error.message}`,
        rolledBack: f.error instanceof RolloutFailedError && f.error.end === 'rolled-back',
        imagePull: f.error instanceof ImagePullError,
      }));
      const revert = await this.maybeRevert(outcome.revision, failures, previous);
      return { kind: 'apply-failed', desired, observed, health: await this.assess(desired, observed), failures, revert };
    }
    const reason = outcome instanceof CapstanError ? REASONS[outcome.code] ?? 'PassFailed' : 'PassFailed';
    return { kind: 'error', revision: undefined, reason, message: outcome.message };
  }

  private async assess(desired: DesiredState, observed: ObservedState): Promise<ServiceHealth[]> {
    return assessServices(desired, observed, await this.opts.health?.(), this.opts.now());
  }

  /** A Degraded service is a warning each time its problem changes; a first Healthy one is only worth a debug line. */
  private logHealth(health: readonly ServiceHealth[]): void {
    for (const h of health) {
      const key = `${h.stack}/${h.service}`;
      const line = `${h.status} ${h.reason ?? ''} ${h.live.message} ${JSON.stringify(h.unhealthy)}`;
      const before = this.logged.get(key);
      if (before === line) continue;
      this.logged.set(key, line);
      const fields = {
        stack: h.stack, service: h.service, status: h.status, reason: h.reason,
        exitCode: h.crashLoop?.exitCode, logs: h.crashLoop?.lastLogLines, unhealthy: h.unhealthy.length > 0 ? h.unhealthy : undefined,
      };
      const message = `${h.service}: ${h.live.message}`;
      if (h.status === 'Degraded') this.opts.logger.warn(fields, message);
      else if (before === undefined) this.opts.logger.debug(fields, message);
      else this.opts.logger.info(fields, message);
    }
  }

  private async maybeRevert(revision: string, failures: readonly { stack: string | undefined; message: string }[], previous: ReadonlyMap<string, StackStatus>): Promise<string | undefined> {
    if (this.opts.autoRevert === undefined || !autoRevertCandidate(revision, failures, previous, this.reverted)) return undefined;
    this.reverted.add(revision);
    const reason = `Capstan could not apply ${revision.slice(0, 7)}: ${failures.map((f) => f.message).slice(0, 3).join('; ')}`;
    let pushed: PushedCommit | undefined;
    try {
      pushed = await this.opts.autoRevert(revision, reason);
    } catch (err) {
      this.opts.logger.error({ err, revision }, `auto-revert of ${revision.slice(0, 7)} failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
    if (pushed !== undefined) this.opts.logger.warn({ revision, commit: pushed.oid }, `auto-reverted ${revision.slice(0, 7)}: pushed ${pushed.oid.slice(0, 7)} ${pushed.subject}`);
    return pushed?.oid;
  }
}

/**
 * The auto-revert rule until rollouts decide it: a revision is reverted when
 * applying it failed for a stack that had run an earlier revision
 * successfully (a first deploy has nothing to go back to and is healed by
 * retrying instead), and it was not reverted before. That the revision is
 * still the branch tip and is not itself an auto-revert is checked against
 * Git when pushing.
 */
export function autoRevertCandidate(revision: string, failures: readonly { stack?: string | undefined }[], previous: ReadonlyMap<string, StackStatus>, reverted: ReadonlySet<string>): boolean {
  if (reverted.has(revision)) return false;
  return failures.some((f) => {
    const before = f.stack === undefined ? undefined : previous.get(f.stack);
    return before?.lastAppliedRevision !== undefined && before.lastAppliedRevision !== revision;
  });
}

const REASONS: Partial<Record<CapstanError['code'], string>> = {
  E_GIT_AUTH: 'GitAuthFailed',
  E_GIT_FETCH: 'GitFetchFailed',
  E_GIT_REF_NOT_FOUND: 'BranchNotFound',
  E_DOCKER_UNAVAILABLE: 'EngineUnavailable',
  E_DOCKER_API: 'EngineError',
  E_APPLY: 'ApplyFailed',
};

function revisionOf(report: PassReport): string | undefined {
  return report.kind === 'converged' || report.kind === 'apply-failed' ? report.desired.revision : report.revision;
}

/** `status(web): Ready at a1b2c3d`, or one subject for several stacks with a line per stack in the body. */
export function commitMessage(changed: readonly string[], stacks: ReadonlyMap<string, StackStatus>, revision: string | undefined, instance: string): string {
  const sha = revision?.slice(0, 7) ?? 'no revision';
  const names = [...new Set(changed.filter((p) => p !== OPERATOR_FILE).map((p) => p.slice(STATUS_DIR.length + 1).replace(/\.yaml$/, '')))];
  const word = (name: string): string => {
    const status = stacks.get(name);
    return status === undefined ? 'Removed' : headline(status);
  };
  const only = names[0];
  const subject =
    only === undefined ? `status: operator at ${sha}`
    : names.length === 1 ? `status(${only}): ${word(only)} at ${sha}`
    : `status: ${names.length} stacks at ${sha}`;
  const body = names.length > 1 ? ['', ...names.map((n) => `- ${n}: ${word(n)}`)] : [];
  const trailers = [...(revision === undefined ? [] : [`Capstan-Revision: ${revision}`]), `Capstan-Instance: ${instance}`];
  return [subject, ...body, '', ...trailers].join('\n');
}
