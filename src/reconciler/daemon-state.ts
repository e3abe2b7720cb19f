// What the daemon knows after its last pass, for GET /api/status, /readyz and
// the per-stack metrics. This is the seam the status files (status/<stack>.yaml,
// written by the status reporter) plug into: until then it reports from the
// last pass alone (revision, plan summary, errors), in memory.

import { CapstanError, ManifestsInvalidError } from '../errors.js';
import type { ServiceChange } from '../plan/operations.js';
import type { PassResult } from './pass.js';

export interface StackOutcome {
  stack: string;
  ready: boolean;
  /** Set when this pass brought the stack to its revision (seconds since the epoch). */
  appliedAtSeconds?: number;
}

export interface StackView {
  stack: string;
  revision: string;
  conditions: { type: 'Ready' | 'Reconciling' | 'Stalled'; status: 'True' | 'False'; reason: string; message: string }[];
  services: { service: string; action: ServiceChange['action']; replicas: ServiceChange['replicas'] }[];
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
  stacks: StackView[];
}

export class DaemonState {
  private lastPass: LastPass | null = null;
  private stacks: StackView[] = [];

  constructor(private readonly opts: { instance: string; branch: string; syncAllowed: () => boolean }) {}

  /** /readyz: the first pass has finished, whatever its outcome. */
  isReady(): boolean {
    return this.lastPass !== null;
  }

  /** Records a pass and returns what the metrics need per stack. */
  record(result: PassResult | Error, startedAtMs: number, finishedAtMs: number): StackOutcome[] {
    const base = { finishedAt: new Date(finishedAtMs).toISOString(), durationSeconds: (finishedAtMs - startedAtMs) / 1000 };
    if (result instanceof Error) {
      const revision = result instanceof ManifestsInvalidError && typeof result.data['revision'] === 'string' ? result.data['revision'] : null;
      const code = result instanceof CapstanError ? result.code : 'E_UNEXPECTED';
      const problems = result instanceof ManifestsInvalidError ? result.errors.map((e) => e.format()) : [];
      this.lastPass = { ...base, result: 'error', revision, changes: 0, applied: 0, error: { code, message: result.message, problems } };
      const stalled = result instanceof ManifestsInvalidError;
      // What runs keeps running: the stacks keep their revision, with the failure as their condition.
      this.stacks = this.stacks.map((s) => ({
        ...s,
        conditions: [
          { type: 'Ready', status: 'False', reason: stalled ? 'ManifestsInvalid' : 'PassFailed', message: result.message },
          ...(stalled ? [{ type: 'Stalled' as const, status: 'True' as const, reason: 'ManifestsInvalid', message: problems.join('\n') }] : []),
        ],
      }));
      return this.stacks.map((s) => ({ stack: s.stack, ready: false }));
    }
    const held = result.held !== undefined;
    this.lastPass = { ...base, result: held ? 'held' : 'success', revision: result.revision, changes: result.plan.operations.length, applied: result.applied, error: null };
    const byStack = new Map<string, ServiceChange[]>();
    for (const s of result.plan.services) byStack.set(s.stack, [...(byStack.get(s.stack) ?? []), s]);
    const touched = new Set(result.plan.operations.map((o) => o.stack));
    this.stacks = [...byStack.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([stack, services]) => ({
        stack,
        revision: result.revision,
        conditions: held && touched.has(stack)
          ? [
              { type: 'Ready', status: 'False', reason: 'SyncWindowClosed', message: 'changes wait for a sync window to open' },
              { type: 'Reconciling', status: 'True', reason: 'SyncWindowClosed', message: `${result.plan.operations.filter((o) => o.stack === stack).length} changes wait` },
            ]
          : [{ type: 'Ready', status: 'True', reason: 'Converged', message: `${services.length} services at ${result.revision.slice(0, 7)}` }],
        services: services.map((s) => ({ service: s.service, action: s.action, replicas: s.replicas })),
      }));
    return this.stacks.map((s) => {
      const ready = s.conditions[0]?.status === 'True';
      return { stack: s.stack, ready, ...(ready && touched.has(s.stack) ? { appliedAtSeconds: finishedAtMs / 1000 } : {}) };
    });
  }

  status(): DaemonStatus {
    return {
      instance: this.opts.instance,
      branch: this.opts.branch,
      ready: this.isReady(),
      syncWindow: this.opts.syncAllowed() ? 'open' : 'closed',
      lastPass: this.lastPass,
      stacks: this.stacks,
    };
  }
}
