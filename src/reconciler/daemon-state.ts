// What the daemon knows after its last pass, for GET /api/status, /readyz and
// the per-stack metrics: the last pass itself (revision, result, errors) and
// the status documents the status reporter made of it — the same documents
// as the status branch's files, plus what changes too often for Git (the
// sync time, each service's live health).

import { CapstanError, ManifestsInvalidError } from '../errors.js';
import { isReady, type OperatorStatus, type StackStatus } from '../status/model.js';
import type { NodeStatus } from '../status/swarm-health.js';
import type { StatusSnapshot } from '../status/reporter.js';
import type { ServiceHealth } from '../status/service-health.js';
import type { PassResult } from './pass.js';

export interface StackOutcome {
  stack: string;
  ready: boolean;
  /** Set when this pass brought the stack to its revision (seconds since the epoch). */
  appliedAtSeconds?: number;
}

export interface LastPass {
  result: 'success' | 'error' | 'held';
  revision: string | null;
  finishedAt: string;
  durationSeconds: number;
  changes: number;
  applied: number;
  error: { code: string; message: string; problems: string[] } | null;
}

export interface DaemonStatus {
  instance: string;
  branch: string;
  ready: boolean;
  syncWindow: 'open' | 'closed';
  lastPass: LastPass | null;
  /** When the last pass ended (ISO), null before the first. */
  lastSyncTime: string | null;
  operator: OperatorStatus;
  /** As in status/<stack>.yaml on the status branch. */
  stacks: readonly StackStatus[];
  /** Swarm backend: every node, its state and how many of this instance's tasks run on it. */
  nodes?: readonly NodeStatus[];
  /** Per service, with what the files leave out: crash counts, the next restart, the newest log lines, probe failures in a row. */
  health: readonly ServiceHealth[];
}

export class DaemonState {
  private lastPass: LastPass | null = null;

  constructor(private readonly opts: { instance: string; branch: string; syncAllowed: () => boolean; documents: () => StatusSnapshot }) {}

  /** /readyz: the first pass has finished, whatever its outcome. */
  isReady(): boolean {
    return this.lastPass !== null;
  }

  /** Records a pass (after status has reported it) and returns what the metrics need per stack. */
  record(result: PassResult | Error, startedAtMs: number, finishedAtMs: number): StackOutcome[] {
    const base = { finishedAt: new Date(finishedAtMs).toISOString(), durationSeconds: (finishedAtMs - startedAtMs) / 1000 };
    let touched = new Set<string>();
    if (result instanceof Error) {
      const revision = result instanceof ManifestsInvalidError && typeof result.data['revision'] === 'string' ? result.data['revision'] : null;
      const code = result instanceof CapstanError ? result.code : 'E_UNEXPECTED';
      const problems = result instanceof ManifestsInvalidError ? result.errors.map((e) => e.format()) : [];
      this.lastPass = { ...base, result: 'error', revision, changes: 0, applied: 0, error: { code, message: result.message, problems } };
    } else {
      const held = result.held !== undefined;
      this.lastPass = { ...base, result: held ? 'held' : 'success', revision: result.revision, changes: result.plan.operations.length, applied: result.applied, error: null };
      if (!held && result.applied > 0) touched = new Set(result.plan.operations.map((o) => o.stack));
    }
    return this.opts.documents().stacks.map((s) => {
      const ready = isReady(s);
      return { stack: s.stack, ready, ...(ready && touched.has(s.stack) ? { appliedAtSeconds: finishedAtMs / 1000 } : {}) };
    });
  }

  status(): DaemonStatus {
    const docs = this.opts.documents();
    return {
      instance: this.opts.instance,
      branch: this.opts.branch,
      ready: this.isReady(),
      syncWindow: this.opts.syncAllowed() ? 'open' : 'closed',
      lastPass: this.lastPass,
      lastSyncTime: docs.lastSyncTime === undefined ? null : new Date(docs.lastSyncTime).toISOString(),
      operator: docs.operator,
      stacks: docs.stacks,
      health: docs.health,
      ...(docs.nodes === undefined ? {} : { nodes: docs.nodes }),
    };
  }
}
