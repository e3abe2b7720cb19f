// The daemon's Notifier, from settings: which forge gets commit statuses
// (named, or recognized from --repo when a token is set) and which webhooks
// hear of deploys. A forge named explicitly that cannot be reached for want
// of an API address or a token is a configuration error at start-up, not a
// silent nothing.

import type { Settings } from '../config/settings.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { describeForge, forgeFromRepoUrl } from '../notify/forge.js';
import { Notifier, type NotifyTargets } from '../notify/notifier.js';

/** How long a command that ends (apply, or the daemon at shutdown) waits for queued statuses and notifications to go out. */
export const NOTIFY_DRAIN_MS = 5000;

export function createNotifier(settings: Settings, logger: Logger): Notifier {
  const log = logger.child({ component: 'notify' });
  const targets: NotifyTargets = {
    commitStatus: commitStatusTarget(settings, log),
    webhook: settings.notifyWebhook === undefined ? undefined : { url: settings.notifyWebhook, secret: settings.notifyWebhookSecret },
    slack: settings.slackWebhookUrl === undefined ? undefined : { url: settings.slackWebhookUrl },
  };
  return new Notifier({ instance: settings.instance, targets, logger: log, now: Date.now });
}

function commitStatusTarget(settings: Settings, log: Logger): NotifyTargets['commitStatus'] {
  if (settings.commitStatus === 'off') return undefined;
  const named = settings.commitStatus === 'auto' ? undefined : settings.commitStatus;
  const forge = forgeFromRepoUrl(settings.repo ?? '', named, settings.forgeApi, settings.forgeRepo);
  if (named !== undefined && forge === undefined) {
    throw new ConfigError(`--commit-status ${named}: cannot tell the forge's API and repository from --repo ${settings.repo ?? ''}`, 'set --forge-api (e.g. https://gitea.example.com/api/v1) and --forge-repo owner/name');
  }
  if (forge === undefined) return undefined;
  if (settings.forgeToken === undefined) {
    if (named !== undefined) throw new ConfigError(`--commit-status ${named} needs a token`, 'set CAPSTAN_FORGE_TOKEN (or CAPSTAN_GIT_TOKEN) to a token that may set commit statuses');
    log.info(`commit statuses off: ${describeForge(forge)} recognized, but no CAPSTAN_FORGE_TOKEN (or CAPSTAN_GIT_TOKEN) is set`);
    return undefined;
  }
  log.info({ forge: describeForge(forge), repo: forge.repo }, `commit statuses go to ${describeForge(forge)} for ${forge.repo}`);
  return { forge, token: settings.forgeToken, targetUrl: settings.statusUrl, ref: settings.branch };
}
