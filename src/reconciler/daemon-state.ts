// What the daemon knows, for GET /api/status and /readyz: each lane's last
// pass (outcome, reason, revision, duration, when it runs next), the newest
// revision, and the status documents the reporter keeps — the same documents
// as the status branch's files, plus what changes too often for Git (live
// health, rollout progress).

import { CapstanError } from '../errors.js';
import type { LaneInfo } from './lanes.js';
import type { OperatorStatus, StackStatus } from '../status/model.js';
import type { NodeStatus } from '../status/swarm-health.js';
import type { StatusSnapshot } from '../status/reporter.js';
import type { ServiceHealth } from '../status/service-health.js';
import type { RolloutProgress } from '../strategies/step.js';
import type { LaneOutcome } from './stack-pass.js';

export interface LanePass {
  stack: string;
  /** converged | progressing | superseded | failed | held, and why. */
  outcome: LaneOutcome['kind'] | 'error';
  reason: string;
  revision: string | null;
  finishedAt: string;
  durationSeconds: number;
  changes: number;
  applied: number;
  error: { code: string; message: string } | null;
}

export interface LaneStatus extends LanePass {
  running: boolean;
  /** ISO time the lane runs again by itself, if it asked to. */
  nextPassAt: string | null;
  passes: number;
}

export interface DaemonStatus {
  instance: string;
  branch: string;
  ready: boolean;
  syncWindow: 'open' | 'closed';
  /** The newest commit of the branch (stacks it did not change keep their own revision). */
  revision: string | null;
  /** The lane pass that ended last. */
  lastPass: LanePass | null;
  /** When the last lane pass ended (ISO), null before the first. */
  lastSyncTime: string | null;
  lanes: readonly LaneStatus[];
  /** Rollouts in progress: strategy, batch i/n, phase, since, next step at. */
  progress: readonly RolloutProgress[];
  operator: OperatorStatus;
  /** As in status/<stack>.yaml on the status branch. */
  stacks: readonly StackStatus[];
  /** Swarm backend: every node, its state and how many of this instance's tasks run on it. */
  nodes?: readonly NodeStatus[];
  /** Per service, with what the files leave out: crash counts, the next restart, the newest log lines, probe failures in a row. */
  health: readonly ServiceHealth[];
}

export class DaemonState {
  private readonly passes = new Map<string, LanePass>();
  private last: LanePass | null = null;
  private ready = false;

  constructor(private readonly opts: {
    instance: string;
    branch: string;
    syncAllowed: () => boolean;
    documents: () => StatusSnapshot;
  }) {}

  /** /readyz: the first look at Git and the passes it started have finished, whatever their outcome. */
  isReady(): boolean {
    return this.ready;
  }

  markReady(): void {
    this.ready = true;
  }

  record(stack: string, result: LaneOutcome | Error, startedAtMs: number, finishedAtMs: number): LanePass {
    const base = { stack, finishedAt: new Date(finishedAtMs).toISOString(), durationSeconds: (finishedAtMs - startedAtMs) / 1000 };
    const pass: LanePass = result instanceof Error
      ? { ...base, outcome: 'error', reason: result instanceof CapstanError ? result.code : 'E_UNEXPECTED', revision: null, changes: 0, applied: 0, error: { code: result instanceof CapstanError ? result.code : 'E_UNEXPECTED', message: result.message } }
      : { ...base, outcome: result.kind, reason: result.reason, revision: result.revision ?? null, changes: result.planned, applied: result.applied, error: null };
    this.passes.set(stack, pass);
    this.last = pass;
    return pass;
  }

  status(laneInfo: readonly LaneInfo[], revision: string | undefined): DaemonStatus {
    const docs = this.opts.documents();
    const lanes = laneInfo.flatMap((l) => {
      const pass = this.passes.get(l.stack);
      return pass === undefined ? [] : [{ ...pass, running: l.running, nextPassAt: l.nextAt === undefined ? null : new Date(l.nextAt).toISOString(), passes: l.passes }];
    });
    return {
      instance: this.opts.instance,
      branch: this.opts.branch,
      ready: this.isReady(),
      syncWindow: this.opts.syncAllowed() ? 'open' : 'closed',
      revision: revision ?? null,
      lastPass: this.last,
      lastSyncTime: docs.lastSyncTime === undefined ? null : new Date(docs.lastSyncTime).toISOString(),
      lanes,
      progress: docs.progress,
      operator: docs.operator,
      stacks: docs.stacks,
      health: docs.health,
      ...(docs.nodes === undefined ? {} : { nodes: docs.nodes }),
    };
  }
}
