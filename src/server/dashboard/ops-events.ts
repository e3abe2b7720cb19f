// What a person wants to see scroll by on the dashboard: the deploy events
// (a deploy landed, failed, a pull failed, a rollout was rolled back, a
// commit was invalid, a crash loop began or ended, an image update was
// committed) as the lanes' typed outcomes made them (src/events/) — the same
// events commit statuses and notifications are made of — plus heals and
// failed passes, which the daemon reports directly. Pure.

import type { DeployEvent } from '../../events/model.js';

export type OpsEventKind =
  | 'deployed' | 'deploy-failed' | 'pull-failed' | 'rolled-back' | 'auto-reverted' | 'superseded' | 'invalid'
  | 'crash-loop' | 'crash-loop-ended' | 'image-update' | 'heal' | 'pass-failed';

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

/** The dashboard's line for a deploy event; undefined for what only a commit status says (a deploy starting). */
export function opsEventOf(e: DeployEvent, time: string): OpsEvent | undefined {
  const sha = (revision: string): string => revision.slice(0, 7);
  switch (e.kind) {
    case 'deploy.started': return undefined;
    case 'deploy.converged': return { time, kind: 'deployed', stack: e.stack, revision: e.revision, message: `${e.stack} runs ${sha(e.revision)} (${e.message})`, bad: false };
    case 'deploy.failed': return { time, kind: e.cause === 'image-pull' ? 'pull-failed' : 'deploy-failed', stack: e.stack, revision: e.revision, message: `${sha(e.revision)}: ${e.reason}`, bad: true };
    case 'deploy.invalid': return { time, kind: 'invalid', stack: e.stack, revision: e.revision, message: `${sha(e.revision)} is invalid: ${e.reason}`, bad: true };
    case 'deploy.rolled-back': return { time, kind: 'rolled-back', stack: e.stack, revision: e.revision, message: `${sha(e.revision)} was rolled back: ${e.reason}`, bad: true };
    case 'deploy.auto-reverted': return { time, kind: 'auto-reverted', stack: e.stack, revision: e.revision, message: `${sha(e.revision)} was reverted by ${sha(e.revert)}`, bad: true };
    case 'deploy.superseded': return { time, kind: 'superseded', stack: e.stack, revision: e.revision, message: `${sha(e.revision)} was superseded by ${sha(e.by)} before it converged`, bad: false };
    case 'crash-loop.started': return { time, kind: 'crash-loop', stack: e.stack, service: e.service, message: `${e.replica} is crash-looping (exit code ${e.exitCode ?? '?'})`, bad: true };
    case 'crash-loop.ended': return { time, kind: 'crash-loop-ended', stack: e.stack, service: e.service, message: `${e.replica} is no longer crash-looping`, bad: false };
    case 'image-update.committed': return { time, kind: 'image-update', stack: e.stack, service: e.service, revision: e.commit, message: `image ${e.from} → ${e.to} committed as ${sha(e.commit)}`, bad: false };
  }
}
