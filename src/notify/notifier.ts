// Fans deploy events out to the receivers the operator configured: commit
// statuses on the forge, a generic JSON webhook, a Slack-compatible incoming
// webhook. `emit` never blocks and never throws: each receiver has its own
// outbox (./outbox.ts). Generic webhooks are signed like GitHub's own
// (`X-Capstan-Signature-256: sha256=<hex HMAC of the body>`) when a secret is
// set.

import { createHmac } from 'node:crypto';
import { describeEvent, type DeployEvent, type StampedEvent } from '../events/model.js';
import type { Logger } from '../logging/logger.js';
import { commitStatusRequest, describeForge, type Forge } from './forge.js';
import { commitStatusOf, jsonPayload, NOTIFIED, slackPayload } from './messages.js';
import { Outbox, type OutboxOptions } from './outbox.js';

export interface NotifyTargets {
  commitStatus: { forge: Forge; token: string; targetUrl: string | undefined; ref: string | undefined } | undefined;
  webhook: { url: string; secret: string | undefined } | undefined;
  slack: { url: string } | undefined;
}

export interface NotifierOptions {
  instance: string;
  targets: NotifyTargets;
  logger: Logger;
  now: () => number;
  /** Retry pacing and the like; tests make it quick. */
  outbox?: Partial<Omit<OutboxOptions, 'name' | 'logger'>>;
}

export class Notifier {
  private readonly forge: Outbox | undefined;
  private readonly webhook: Outbox | undefined;
  private readonly slack: Outbox | undefined;

  constructor(private readonly opts: NotifierOptions) {
    const { targets, logger } = opts;
    const outbox = (name: string): Outbox => new Outbox({ ...opts.outbox, name, logger });
    this.forge = targets.commitStatus === undefined ? undefined : outbox(describeForge(targets.commitStatus.forge));
    this.webhook = targets.webhook === undefined ? undefined : outbox(`webhook at ${hostOf(targets.webhook.url)}`);
    this.slack = targets.slack === undefined ? undefined : outbox(`Slack webhook at ${hostOf(targets.slack.url)}`);
  }

  /** Whether anything is configured at all. */
  get active(): boolean {
    return this.forge !== undefined || this.webhook !== undefined || this.slack !== undefined;
  }

  emit(event: DeployEvent): void {
    const { targets, instance } = this.opts;
    this.opts.logger.debug({ event: event.kind, stack: event.stack }, describeEvent(event));
    const cs = targets.commitStatus;
    const status = cs === undefined ? undefined : commitStatusOf(event, instance, { targetUrl: cs.targetUrl, ref: cs.ref });
    if (cs !== undefined && status !== undefined) {
      this.forge?.push({ request: commitStatusRequest(cs.forge, cs.token, status), what: `${status.state} on ${status.sha.slice(0, 7)} for ${status.context}`, key: `${status.sha} ${status.context}` });
    }
    if (!NOTIFIED.has(event.kind)) return;
    const stamped: StampedEvent = { ...event, instance, at: new Date(this.opts.now()).toISOString() };
    const what = `${event.kind} of ${event.stack}`;
    if (targets.webhook !== undefined) {
      const body = jsonPayload(stamped);
      const signature: Record<string, string> = targets.webhook.secret === undefined ? {} : { 'X-Capstan-Signature-256': `sha256=${createHmac('sha256', targets.webhook.secret).update(body).digest('hex')}` };
      this.webhook?.push({ request: { method: 'POST', url: targets.webhook.url, headers: { 'Content-Type': 'application/json', 'User-Agent': 'capstan', 'X-Capstan-Event': event.kind, ...signature }, body }, what });
    }
    if (targets.slack !== undefined) {
      this.slack?.push({ request: { method: 'POST', url: targets.slack.url, headers: { 'Content-Type': 'application/json', 'User-Agent': 'capstan' }, body: slackPayload(stamped) }, what });
    }
  }

  /** On shutdown: give what is queued a moment to go out. */
  async drain(timeoutMs: number): Promise<void> {
    await Promise.all([this.forge?.drain(timeoutMs), this.webhook?.drain(timeoutMs), this.slack?.drain(timeoutMs)]);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}
