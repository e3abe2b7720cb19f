// After every lane pass: turn what it found into its stack's status document,
// keep it (and each service's live health and rollout progress) for the HTTP
// API, log services whose health changed, and commit to the status branch —
// quietly (DESIGN §5): only when the pass ended converged, failed or held and
// the file changed, or when a condition's type, status or reason changed.
// Replica counts, rollout progress and timestamps between those moments live
// in the API only. Writes are serialized and coalesced: lanes that finish
// while a commit is being pushed share the next one. Status never fails a
// pass: its own errors are logged, and the next report tries again.

import { CapstanError, DataDirWriteError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { PushedCommit } from '../source/rollback.js';
import type { RolloutProgress } from '../strategies/step.js';
import type { GitStatusWriter } from './git-writer.js';
import { headline, nextStackStatus, type Condition, type OperatorStatus, type StackInput, type StackStatus } from './model.js';
import { OPERATOR_FILE, parseStackStatus, renderOperatorStatus, renderStackStatus, stackFile, STATUS_DIR } from './render.js';
import type { ServiceHealth } from './service-health.js';
import type { NodeStatus } from './swarm-health.js';

/** How long status that failed to push waits before the same content is tried again. */
const RETRY_UNCHANGED_MS = 60_000;

/** How a lane pass ended (DESIGN §4); decides whether status is committed. */
export type LaneOutcomeKind = 'converged' | 'progressing' | 'superseded' | 'failed' | 'held';

/** What one lane pass tells status about its stack. */
export interface StackReport {
  outcome: LaneOutcomeKind;
  /** The document's input: revision, conditions' outcome, services, containers. */
  input: StackInput;
  /** Each service's health, with what the file leaves out; undefined keeps the last. */
  health: readonly ServiceHealth[] | undefined;
  progress: readonly RolloutProgress[];
  /** For --auto-revert: the failures of a revision that failed to apply (or was rolled back). */
  failed?: { revision: string; messages: readonly string[] };
  /** The stack left Git and nothing of it remains: its file goes. */
  gone?: boolean;
  /** Swarm backend: the swarm's nodes as this pass saw them. */
  nodes?: readonly NodeStatus[];
}

export interface StatusReporterOptions {
  instance: string;
  version: string;
  backend: string;
  /** Undefined with `--status-branch none`: status is kept for the API only. */
  writer: Pick<GitStatusWriter, 'read' | 'write'> | undefined;
  /** Set with --auto-revert: pushes the revert of a failed revision, or undefined when it must not (see autoRevertCandidate). */
  autoRevert: ((revision: string, reason: string) => Promise<PushedCommit | undefined>) | undefined;
  logger: Logger;
  now: () => number;
}

/** The documents as `GET /api/status` and `capstan status` show them. */
export interface StatusSnapshot {
  stacks: readonly StackStatus[];
  operator: OperatorStatus;
  /** When the last lane pass ended (ms since epoch); kept out of Git, where it would make a commit per pass. */
  lastSyncTime: number | undefined;
  /** Each service's health at its stack's last pass, with what changes too often for Git. */
  health: readonly ServiceHealth[];
  /** Rollouts in progress (DESIGN §5: never a status commit). */
  progress: readonly RolloutProgress[];
  /** The swarm's nodes at the last pass (swarm backend only). */
  nodes?: readonly NodeStatus[];
}

export class StatusReporter {
  private stacks = new Map<string, StackStatus>();
  private loaded: Promise<void> | undefined;
  /** Files as last committed (or found on the branch): what a report is compared with. */
  private written = new Map<string, string>();
  private operator: OperatorStatus;
  private lastSyncTime: number | undefined;
  private readonly health = new Map<string, readonly ServiceHealth[]>();
  private readonly progress = new Map<string, readonly RolloutProgress[]>();
  private nodes: readonly NodeStatus[] | undefined;
  /** The health line last logged per service: a service is logged when it changes, not every pass. */
  private readonly logged = new Map<string, string>();
  /** Revisions already auto-reverted by this process: never twice. */
  private readonly reverted = new Set<string>();
  private readonly rendered = new Map<string, { key: string; text: string }>();
  /** Files waiting for the next commit (null: delete), and the revisions they are about. */
  private pending = new Map<string, string | null>();
  private pendingRevision: string | undefined;
  private flushing: Promise<void> | undefined;
  /** Flushes the lanes started without waiting for them (see flushInBackground). */
  private readonly background = new Set<Promise<void>>();
  /** The files of the last failed write, and when it failed. */
  private failed: { key: string; at: number } | undefined;
  /** The last 'status not written' warning, until a write succeeds: repeats go to debug. */
  private lastWarning: string | undefined;
  /** Commits made, for the bench and the API. */
  commits = 0;

  constructor(private readonly opts: StatusReporterOptions) {
    this.operator = { instance: opts.instance, version: opts.version, backend: opts.backend, lastError: undefined };
  }

  snapshot(): StatusSnapshot {
    const stacks = [...this.stacks.values()].sort((a, b) => (a.stack < b.stack ? -1 : 1));
    return {
      stacks, operator: this.operator, lastSyncTime: this.lastSyncTime,
      health: stacks.flatMap((s) => this.health.get(s.stack) ?? []),
      progress: [...this.progress.values()].flat(),
      ...(this.nodes === undefined ? {} : { nodes: this.nodes }),
    };
  }

  /** The stack's document as last reported (no I/O). */
  stack(stack: string): StackStatus | undefined {
    return this.stacks.get(stack);
  }

  /** The stack's document now (after the first report, or read back from the branch). */
  async current(stack: string): Promise<StackStatus | undefined> {
    await this.load();
    return this.stacks.get(stack);
  }

  /**
   * Never throws. Resolves once the report is in the API (the commit, if
   * any, may still be on its way: see settled), with the auto-revert commit
   * it pushed, if it did.
   */
  async report(stack: string, report: StackReport): Promise<string | undefined> {
    try {
      return await this.reportOrThrow(stack, report);
    } catch (err) {
      this.warn(err);
      return undefined;
    }
  }

  /** A failure outside any stack (Git unreachable): the operator file says so, every stack's Ready says why. */
  async reportSourceError(error: Error): Promise<void> {
    try {
      await this.load();
      const now = this.opts.now();
      const reason = error instanceof CapstanError ? REASONS[error.code] ?? 'PassFailed' : 'PassFailed';
      this.operator = { ...this.operator, lastError: error.message };
      this.queue(OPERATOR_FILE, renderOperatorStatus(this.operator));
      for (const [name, before] of this.stacks) {
        const next = nextStackStatus(before, { stack: name, revision: undefined, outcome: { kind: 'error', reason, message: error.message }, services: undefined, containers: [], converged: false }, now);
        this.stacks.set(name, next);
        this.queueIfWorthIt(next, 'failed');
      }
      await this.flush();
    } catch (err) {
      this.warn(err);
    }
  }

  /** Git answers again: the operator file loses its error. */
  async clearSourceError(): Promise<void> {
    if (this.operator.lastError === undefined) return;
    this.operator = { ...this.operator, lastError: undefined };
    this.queue(OPERATOR_FILE, renderOperatorStatus(this.operator));
    await this.flush().catch((err: unknown) => this.warn(err));
  }

  /** Waits for the commits in flight and those queued behind them, if any. */
  async settled(): Promise<void> {
    while (this.flushing !== undefined || this.background.size > 0) await Promise.all([this.flushing, ...this.background]);
  }

  private async reportOrThrow(stack: string, report: StackReport): Promise<string | undefined> {
    await this.load();
    const now = this.opts.now();
    this.lastSyncTime = now;
    const previous = this.stacks.get(stack);
    if (report.health !== undefined) {
      this.health.set(stack, report.health);
      this.logHealth(report.health, report.outcome);
    }
    if (report.nodes !== undefined) this.nodes = report.nodes;
    if (report.progress.length > 0) this.progress.set(stack, report.progress);
    else this.progress.delete(stack);
    if (report.gone === true) {
      this.stacks.delete(stack);
      this.health.delete(stack);
      if (this.written.has(stackFile(stack))) this.queue(stackFile(stack), null);
      this.flushInBackground();
      return undefined;
    }
    let input = report.input;
    const revert = report.failed === undefined ? undefined : await this.maybeRevert(report.failed, previous);
    if (revert !== undefined && input.outcome.kind === 'rolled-back') input = { ...input, outcome: { ...input.outcome, revert } };
    if (revert !== undefined && input.outcome.kind === 'apply-failed') input = { ...input, outcome: { kind: 'rolled-back', failures: input.outcome.failures, revert } };
    const next = nextStackStatus(previous, input, now);
    this.stacks.set(stack, next);
    if (this.queueIfWorthIt(next, report.outcome)) this.flushInBackground();
    return revert;
  }

  /**
   * A lane never waits on the status branch: a Git server that stalls holds
   * a push for its whole idle timeout, and the lane must go on healing
   * meanwhile. A failed push keeps its files queued for the next one.
   */
  private flushInBackground(): void {
    const run: Promise<void> = this.flush()
      .catch((err: unknown) => this.warn(err))
      .finally(() => this.background.delete(run));
    this.background.add(run);
  }

  /**
   * DESIGN §5: a pass that ended converged, failed or held commits its file
   * when it changed; any other pass only when a condition's type, status or
   * reason changed (a deploy's Reconciling, say), never for counts or times.
   */
  private queueIfWorthIt(status: StackStatus, outcome: LaneOutcomeKind): boolean {
    const path = stackFile(status.stack);
    const text = this.render(status);
    const committed = this.written.get(path);
    if (this.pending.has(path)) {
      this.queue(path, text);
      return true;
    }
    if (committed === text) return false;
    const settled = outcome === 'converged' || outcome === 'failed' || outcome === 'held';
    const before = committed === undefined ? undefined : parseStackStatus(committed);
    if (!settled && before !== undefined && conditionKey(before.conditions) === conditionKey(status.conditions)) return false;
    this.queue(path, text);
    this.pendingRevision = status.lastAttemptedRevision ?? this.pendingRevision;
    return true;
  }

  private queue(path: string, content: string | null): void {
    this.pending.set(path, content);
  }

  /** One commit at a time; whatever is queued meanwhile goes into the next. */
  private flush(): Promise<void> {
    if (this.flushing !== undefined) return this.flushing.then(() => (this.pending.size > 0 ? this.flush() : undefined));
    if (this.pending.size === 0) return Promise.resolve();
    const run = this.writeOnce().finally(() => {
      this.flushing = undefined;
    });
    this.flushing = run;
    return run;
  }

  private async writeOnce(): Promise<void> {
    const batch = this.pending;
    const revision = this.pendingRevision;
    this.pending = new Map();
    this.pendingRevision = undefined;
    const operator = renderOperatorStatus(this.operator);
    if (this.written.get(OPERATOR_FILE) !== operator) batch.set(OPERATOR_FILE, operator);
    const files = new Map([...batch].filter((e): e is [string, string] => e[1] !== null));
    const removed = [...batch].filter(([, c]) => c === null).map(([p]) => p);
    const remember = (): void => {
      for (const [path, content] of batch) {
        if (content === null) this.written.delete(path);
        else this.written.set(path, content);
      }
    };
    if (this.opts.writer === undefined) {
      remember();
      return;
    }
    // The same content failed to push a moment ago (say, a read-only token): passes must not hammer the server.
    const now = this.opts.now();
    const key = JSON.stringify([...batch]);
    if (this.failed?.key === key && now - this.failed.at < RETRY_UNCHANGED_MS) {
      for (const [p, c] of batch) if (!this.pending.has(p)) this.pending.set(p, c);
      return;
    }
    let oid: string | undefined;
    try {
      oid = await this.opts.writer.write(files, removed, (changed) => commitMessage(changed, this.stacks, revision, this.opts.instance));
    } catch (err) {
      this.failed = { key, at: now };
      for (const [p, c] of batch) if (!this.pending.has(p)) this.pending.set(p, c);
      throw err;
    }
    this.failed = undefined;
    if (this.lastWarning !== undefined) this.opts.logger.info({ commit: oid }, 'status written again');
    this.lastWarning = undefined;
    remember();
    if (oid !== undefined) {
      this.commits++;
      this.opts.logger.info({ commit: oid, revision }, `status committed at ${oid.slice(0, 7)}`);
    }
  }

  /** The stacks' status before the first report: read back from the branch, once. */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      if (this.opts.writer === undefined) return;
      const files = await this.opts.writer.read();
      for (const [path, text] of files) {
        const status = path === OPERATOR_FILE ? undefined : parseStackStatus(text);
        if (status !== undefined && path === stackFile(status.stack) && !this.stacks.has(status.stack)) this.stacks.set(status.stack, status);
      }
      this.written = new Map([...files].filter(([path]) => path.startsWith(`${STATUS_DIR}/`)));
    })().catch((err: unknown) => {
      this.loaded = undefined;
      throw err;
    });
    return this.loaded;
  }

  /** YAML rendering costs ~0.2 ms a stack; an idle pass's status equals the last one, so reuse its text. */
  private render(status: StackStatus): string {
    const key = JSON.stringify(status);
    const cached = this.rendered.get(status.stack);
    if (cached?.key === key) return cached.text;
    const text = renderStackStatus(status);
    this.rendered.set(status.stack, { key, text });
    return text;
  }

  /**
   * A Degraded service is a warning each time its problem changes once its
   * lane settled (replicas still starting during a deploy are no news); a
   * first Healthy one is only worth a debug line.
   */
  private logHealth(health: readonly ServiceHealth[], outcome: LaneOutcomeKind): void {
    if (outcome === 'progressing' || outcome === 'superseded') return;
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

  private async maybeRevert(failed: { revision: string; messages: readonly string[] }, previous: StackStatus | undefined): Promise<string | undefined> {
    if (this.opts.autoRevert === undefined || !autoRevertCandidate(failed.revision, previous, this.reverted)) return undefined;
    this.reverted.add(failed.revision);
    const reason = `Capstan could not apply ${failed.revision.slice(0, 7)}: ${failed.messages.slice(0, 3).join('; ')}`;
    let pushed: PushedCommit | undefined;
    try {
      pushed = await this.opts.autoRevert(failed.revision, reason);
    } catch (err) {
      this.opts.logger.error({ err, revision: failed.revision }, `auto-revert of ${failed.revision.slice(0, 7)} failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
    if (pushed !== undefined) this.opts.logger.warn({ revision: failed.revision, commit: pushed.oid }, `auto-reverted ${failed.revision.slice(0, 7)}: pushed ${pushed.oid.slice(0, 7)} ${pushed.subject}`);
    return pushed?.oid;
  }

  /**
   * An expected failure (Git unreachable, a push refused) is one line with its
   * code, said once while it lasts; a stack trace only for a bug.
   */
  private warn(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const hint = error instanceof CapstanError && error.hint !== undefined ? ` (${error.hint})` : '';
    const message = `status not written: ${error.message}${hint}`;
    const fields = error instanceof CapstanError ? { code: error.code, ...error.data } : { err: error };
    // A full data dir refuses a different object file each time: the same failure all the same.
    const key = error instanceof DataDirWriteError ? `${error.code}/${String(error.data['errno'])}` : message;
    if (key === this.lastWarning) this.opts.logger.debug(fields, message);
    else this.opts.logger.warn(fields, message);
    this.lastWarning = key;
  }
}

/** What decides a commit between settled passes: each condition's type, status and reason (never its message or time). */
function conditionKey(conditions: readonly Condition[]): string {
  return conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(',');
}

/**
 * The auto-revert rule: a revision is reverted when applying it failed for a
 * stack that had run an earlier revision successfully (a first deploy has
 * nothing to go back to and is healed by retrying instead), and it was not
 * reverted before. That the revision is still the branch tip and is not
 * itself an auto-revert is checked against Git when pushing.
 */
export function autoRevertCandidate(revision: string, previous: StackStatus | undefined, reverted: ReadonlySet<string>): boolean {
  if (reverted.has(revision)) return false;
  return previous?.lastAppliedRevision !== undefined && previous.lastAppliedRevision !== revision;
}

const REASONS: Partial<Record<CapstanError['code'], string>> = {
  E_GIT_AUTH: 'GitAuthFailed',
  E_GIT_FETCH: 'GitFetchFailed',
  E_GIT_REF_NOT_FOUND: 'BranchNotFound',
  E_DOCKER_UNAVAILABLE: 'EngineUnavailable',
  E_DOCKER_API: 'EngineError',
  E_APPLY: 'ApplyFailed',
  E_DATA_DIR_WRITE: 'DataDirUnwritable',
};

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
