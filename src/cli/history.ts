// `capstan history <stack>`: the stack's deploys as the status branch
// recorded them (when, revision, outcome, duration), newest first. Reads the
// branch in a scratch clone, so it works with or without a daemon and never
// disturbs one on the same data dir.

import { requireRepo, type Settings } from '../config/settings.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { deploysOf, type Deploy } from '../status/history.js';
import { readStatusVersions } from '../status/history-reader.js';
import { NO_STATUS_BRANCH } from './status-reporter.js';
import { humanDuration, renderTable } from './table.js';

export async function historyCommand(settings: Settings, logger: Logger, opts: { stack: string; format: string; limit: number }): Promise<number> {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format ${opts.format} is not supported`, 'use --format text or --format json');
  if (settings.statusBranch === NO_STATUS_BRANCH) throw new UsageError('--status-branch is none: there is no deploy history to read', 'give the branch the daemon writes status to with --status-branch');
  const repo = requireRepo(settings);
  const versions = await readStatusVersions(opts.stack, { repo, branch: settings.statusBranch, credentials: credentialsFromEnv(process.env), logger, limit: opts.limit });
  const deploys = deploysOf(versions);
  const source = `${settings.statusBranch} of ${repo}`;
  process.stdout.write(opts.format === 'json' ? `${JSON.stringify({ stack: opts.stack, source, deploys }, null, 2)}\n` : renderHistory(opts.stack, deploys, source));
  return 0;
}

export function renderHistory(stack: string, deploys: readonly Deploy[], source: string): string {
  if (deploys.length === 0) return `No deploys of ${stack} in ${source}.\n`;
  const rows = [['STARTED', 'REVISION', 'OUTCOME', 'DURATION', 'MESSAGE']];
  for (const d of deploys) {
    rows.push([d.startedAt.replace(/\.\d{3}Z$/, 'Z'), d.revision.slice(0, 7), d.outcome, d.durationSeconds === null ? '-' : humanDuration(d.durationSeconds * 1000), d.message]);
  }
  return `Deploys of ${stack} (from ${source}), newest first:\n${renderTable(rows).join('\n')}\n`;
}
