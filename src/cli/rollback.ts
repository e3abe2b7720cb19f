// `capstan rollback [--to SHA]`: commit and push a revert of the newest
// commit that changed the stacks (or a restore of them as of SHA), then
// print it. The running daemon picks it up like any other push.

import { requireRepo, type Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { pushRollback } from '../source/rollback.js';

export async function rollbackCommand(settings: Settings, logger: Logger, opts: { to?: string }): Promise<number> {
  const pushed = await pushRollback({
    repo: requireRepo(settings),
    branch: settings.branch,
    path: settings.path,
    credentials: credentialsFromEnv(process.env),
    author: settings.gitAuthor,
    logger,
    now: () => Date.now(),
    to: opts.to,
  });
  process.stdout.write(`${pushed.oid} ${pushed.subject}\n`);
  return 0;
}
