// The StatusReporter of `apply` and `run`, built from settings: where status
// is committed (or nowhere, with --status-branch none) and whether failed
// revisions are auto-reverted.

import { requireRepo, type Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import type { PassContext } from '../reconciler/pass.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { pushAutoRevert } from '../source/rollback.js';
import { GitStatusWriter } from '../status/git-writer.js';
import { StatusReporter } from '../status/reporter.js';
import { VERSION } from '../version.js';

/** `--status-branch none` turns status commits off. */
export const NO_STATUS_BRANCH = 'none';

export function createStatusReporter(settings: Settings, ctx: PassContext, logger: Logger): StatusReporter {
  const repo = requireRepo(settings);
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
    observe: () => ctx.backend.observe(ctx.instance),
    loadDesired: (revision) => ctx.desired.load(revision),
    autoRevert: settings.autoRevert
      ? (revision, reason) =>
          pushAutoRevert({ repo, branch: settings.branch, path: settings.path, credentials, author: settings.gitAuthor, logger: log, now, revision, reason, instance: settings.instance })
      : undefined,
    logger: log,
    now,
  });
}
