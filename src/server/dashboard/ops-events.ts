// What happened between two passes, as events a person wants to see scroll
// by (a deploy landed, a rollout was rolled back, a pull failed, a crash loop
// began or ended), derived from the stacks' status documents. Pure: the same
// documents the status branch holds, compared condition by condition on the
// same (type, status, reason) that decides a status commit, so an event is
// never more chatty than Git. Heals come from the healer directly (run.ts).

import type { Condition, StackStatus } from '../../status/model.js';

export type OpsEventKind = 'deployed' | 'deploy-failed' | 'pull-failed' | 'rolled-back' | 'invalid' | 'crash-loop' | 'crash-loop-ended' | 'degraded' | 'recovered' | 'heal' | 'pass-failed';

export interface OpsEvent {
  /** ISO time the daemon saw it. */
  time: string;
  kind: OpsEventKind;
  stack?: string;
  service?: string;
  revision?: string;
  message: string;
  /** true for what went wrong; the page colours it. */
  bad: boolean;
}

function active(s: StackStatus | undefined, type: Condition['type'], reason?: string): Condition | undefined {
  return s?.conditions.find((c) => c.type === type && c.status === (type === 'Ready' ? 'False' : 'True') && (reason === undefined || c.reason === reason));
}

function readyTrue(s: StackStatus | undefined): boolean {
  return s?.conditions.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export function eventsBetween(before: readonly StackStatus[], after: readonly StackStatus[], time: string): OpsEvent[] {
  const out: OpsEvent[] = [];
  const prev = new Map(before.map((s) => [s.stack, s]));
  for (const next of after) {
    const was = prev.get(next.stack);
    const sha = next.lastAttemptedRevision?.slice(0, 7) ?? '?';
    const base = { time, stack: next.stack, ...(next.lastAttemptedRevision === undefined ? {} : { revision: next.lastAttemptedRevision }) };
    const began = (type: Condition['type'], reason: string): Condition | undefined => {
      const now = active(next, type, reason);
      return now !== undefined && active(was, type, reason) === undefined ? now : undefined;
    };
    if (next.lastAppliedRevision !== undefined && next.lastAppliedRevision !== was?.lastAppliedRevision) {
      out.push({ ...base, kind: 'deployed', revision: next.lastAppliedRevision, message: `${next.stack} runs ${next.lastAppliedRevision.slice(0, 7)}`, bad: false });
    }
    const rolledBack = began('Degraded', 'RolledBack');
    if (rolledBack !== undefined) out.push({ ...base, kind: 'rolled-back', message: rolledBack.message, bad: true });
    const failed = rolledBack === undefined ? began('Ready', 'ApplyFailed') : undefined;
    if (failed !== undefined) {
      const pull = /\bpull\b|E_IMAGE_PULL/i.test(failed.message);
      out.push({ ...base, kind: pull ? 'pull-failed' : 'deploy-failed', message: `${sha}: ${failed.message}`, bad: true });
    }
    const invalid = began('Stalled', 'ManifestsInvalid');
    if (invalid !== undefined) out.push({ ...base, kind: 'invalid', message: `${sha} is invalid: ${invalid.message}`, bad: true });
    const loop = began('Degraded', 'CrashLoop');
    if (loop !== undefined) out.push({ ...base, kind: 'crash-loop', message: loop.message, bad: true });
    if (active(was, 'Degraded', 'CrashLoop') !== undefined && active(next, 'Degraded', 'CrashLoop') === undefined) {
      out.push({ ...base, kind: 'crash-loop-ended', message: `${next.stack}: no replica crash-loops any more`, bad: false });
    }
    const degraded = active(next, 'Degraded');
    if (degraded !== undefined && !['CrashLoop', 'RolledBack'].includes(degraded.reason) && active(was, 'Degraded', degraded.reason) === undefined) {
      out.push({ ...base, kind: 'degraded', message: degraded.message, bad: true });
    }
    if (readyTrue(next) && was !== undefined && !readyTrue(was) && active(was, 'Degraded') !== undefined) {
      out.push({ ...base, kind: 'recovered', message: `${next.stack} is Ready again`, bad: false });
    }
  }
  return out;
}
