// The StatusReporter of `apply` and `run`, built from settings: where status
// is committed (or nowhere, with --status-branch none) and whether failed
// revisions are auto-reverted.

import { requireRepo, type Settings } from '../config/settings.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { pushAutoRevert } from '../source/rollback.js';
import { GitStatusWriter } from '../status/git-writer.js';
import { StatusReporter } from '../status/reporter.js';
import { VERSION } from '../version.js';

/** `--status-branch none` turns status commits off. */
export const NO_STATUS_BRANCH = 'none';

export function createStatusReporter(settings: Settings, logger: Logger): StatusReporter {
  const repo = requireRepo(settings);
  if (settings.statusBranch === settings.branch) {
    // Each status commit would be a new revision to deploy, whose status would be another commit: a loop.
    throw new ConfigError(`--status-branch ${settings.statusBranch} is the branch Capstan deploys from`, 'use a branch of its own (default capstan/status) or none');
  }
  const credentials = credentialsFromEnv(process.env);
  const now = (): number => Date.now();
  const log = logger.child({ component: 'status' });
  const writer =
    settings.statusBranch === NO_STATUS_BRANCH ? undefined
    : new GitStatusWriter({ repo, branch: settings.statusBranch, dataDir: settings.dataDir, credentials, author: settings.gitAuthor, logger: log, now });
  return new StatusReporter({
    instance: settings.instance,
    version: VERSION,
    backend: settings.backend,
    writer,
    autoRevert: settings.autoRevert
      ? (revision, reason) =>
          pushAutoRevert({ repo, branch: settings.branch, path: settings.path, credentials, author: settings.gitAuthor, logger: log, now, revision, reason, instance: settings.instance })
      : undefined,
    logger: log,
    now,
  });
}
