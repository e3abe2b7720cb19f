// What each event looks like to each receiver. Pure.
//
// - commit status: deploy events only, on the deployed sha, one context per
//   stack (`capstan/<instance>/<stack>`): pending while it rolls out, success
//   once converged, failure (with the reason) when it failed, was rolled
//   back or its manifests are invalid, canceled when a newer commit replaced it first.
// - generic JSON webhook: the event as it is, plus instance and time.
// - Slack-compatible incoming webhook: `text` (the fallback every
//   Slack-compatible receiver shows: Mattermost, Rocket.Chat, Discord's /slack)
//   and one section block in mrkdwn.

import { describeEvent, type DeployEvent, type DeployEventKind, type StampedEvent } from '../events/model.js';
import type { CommitStatus } from './forge.js';

/** Notified by default: what a person wants to hear of; a deploy starting or being superseded is only a commit status. */
export const NOTIFIED: ReadonlySet<DeployEventKind> = new Set([
  'deploy.converged', 'deploy.failed', 'deploy.invalid', 'deploy.rolled-back', 'deploy.auto-reverted', 'crash-loop.started', 'crash-loop.ended', 'image-update.committed',
]);

export function commitStatusOf(e: DeployEvent, instance: string, opts: { targetUrl: string | undefined; ref: string | undefined }): CommitStatus | undefined {
  const base = { targetUrl: opts.targetUrl, ref: opts.ref };
  const context = (stack: string): string => `capstan/${instance}/${stack}`;
  switch (e.kind) {
    case 'deploy.started': return { ...base, sha: e.revision, context: context(e.stack), state: 'pending', description: `deploying ${e.stack}` };
    case 'deploy.converged': return { ...base, sha: e.revision, context: context(e.stack), state: 'success', description: `deployed: ${e.message}` };
    case 'deploy.failed': return { ...base, sha: e.revision, context: context(e.stack), state: 'failure', description: `failed: ${e.reason}` };
    case 'deploy.rolled-back': return { ...base, sha: e.revision, context: context(e.stack), state: 'failure', description: `rolled back: ${e.reason}` };
    case 'deploy.invalid': return { ...base, sha: e.revision, context: context(e.stack), state: 'failure', description: `invalid: ${e.reason}` };
    case 'deploy.superseded': return { ...base, sha: e.revision, context: context(e.stack), state: 'canceled', description: `superseded by ${e.by.slice(0, 7)} before it converged` };
    default: return undefined;
  }
}

export function jsonPayload(e: StampedEvent): string {
  return JSON.stringify({ ...e, summary: describeEvent(e) });
}

const ICON: Record<DeployEventKind, string> = {
  'deploy.started': ':hourglass_flowing_sand:',
  'deploy.converged': ':white_check_mark:',
  'deploy.failed': ':x:',
  'deploy.invalid': ':no_entry:',
  'deploy.rolled-back': ':leftwards_arrow_with_hook:',
  'deploy.auto-reverted': ':rewind:',
  'deploy.superseded': ':fast_forward:',
  'crash-loop.started': ':rotating_light:',
  'crash-loop.ended': ':large_green_circle:',
  'image-update.committed': ':package:',
};

export function slackPayload(e: StampedEvent): string {
  const text = `${ICON[e.kind]} [${e.instance}] ${describeEvent(e)}`;
  const fence = '```';
  const logs = e.kind === 'crash-loop.started' && e.lastLogLines.length > 0 ? `\n${fence}${escapeMrkdwn(e.lastLogLines.join('\n'))}${fence}` : '';
  return JSON.stringify({ text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `${escapeMrkdwn(text)}${logs}` } }] });
}

/** Slack's mrkdwn treats &, < and > as markup. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
