// `capstan status`: the stacks' conditions, revisions and replicas as a table
// or JSON; exit 3 when any stack is not Ready. Reads the status branch (in a
// scratch clone, so a daemon on the same data dir is never disturbed).
// Reading the daemon's HTTP API first slots in at loadStatus: printStatus
// takes the same documents from either place.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { requireRepo, type Settings } from '../config/settings.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { GitStatusWriter } from '../status/git-writer.js';
import { isReady, type StackStatus } from '../status/model.js';
import { OPERATOR_FILE, parseStackStatus } from '../status/render.js';
import { NO_STATUS_BRANCH } from './status-reporter.js';

export interface StatusDocuments {
  /** Where they came from, for the reader: `capstan/status at <repo>` or an API URL. */
  source: string;
  stacks: readonly StackStatus[];
  /** The operator's own document as found (instance, version, backend, lastError). */
  operator: Readonly<Record<string, unknown>> | undefined;
}

export const NOT_READY_EXIT = 3;

export async function statusCommand(settings: Settings, logger: Logger, opts: { format: string }): Promise<number> {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format ${opts.format} is not supported`, 'use --format text or --format json');
  return printStatus(await loadStatus(settings, logger), opts.format, (text) => process.stdout.write(text));
}

export async function loadStatus(settings: Settings, logger: Logger): Promise<StatusDocuments> {
  if (settings.statusBranch === NO_STATUS_BRANCH) throw new UsageError('--status-branch is none: there is no status branch to read', 'give the branch the daemon writes to with --status-branch');
  return readStatusBranch(settings, logger);
}

async function readStatusBranch(settings: Settings, logger: Logger): Promise<StatusDocuments> {
  const repo = requireRepo(settings);
  const scratch = await mkdtemp(join(tmpdir(), 'capstan-status-'));
  try {
    const writer = new GitStatusWriter({ repo, branch: settings.statusBranch, dataDir: scratch, credentials: credentialsFromEnv(process.env), author: settings.gitAuthor, logger, now: () => Date.now() });
    const files = await writer.read();
    const stacks = [...files].filter(([path]) => path !== OPERATOR_FILE).map(([, text]) => parseStackStatus(text)).filter((s): s is StackStatus => s !== undefined);
    const operatorText = files.get(OPERATOR_FILE);
    const operator = operatorText === undefined ? undefined : (parse(operatorText) as Record<string, unknown> | null) ?? undefined;
    return { source: `${settings.statusBranch} of ${repo}`, stacks: stacks.sort((a, b) => (a.stack < b.stack ? -1 : 1)), operator };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Print the documents; 0 when every stack is Ready, else 3. */
export function printStatus(docs: StatusDocuments, format: 'text' | 'json', write: (text: string) => void): number {
  const allReady = docs.stacks.every(isReady);
  if (format === 'json') {
    write(`${JSON.stringify({ source: docs.source, ready: allReady, operator: docs.operator ?? null, stacks: docs.stacks }, null, 2)}\n`);
  } else {
    write(renderStatusTable(docs));
  }
  return allReady ? 0 : NOT_READY_EXIT;
}

export function renderStatusTable(docs: StatusDocuments): string {
  if (docs.stacks.length === 0) return `No stacks in ${docs.source}.\n`;
  const rows = [['STACK', 'READY', 'REASON', 'APPLIED', 'ATTEMPTED', 'REPLICAS', 'MESSAGE']];
  for (const s of docs.stacks) {
    const ready = s.conditions.find((c) => c.type === 'Ready');
    // The most telling condition: a Stalled or Degraded one explains a not-Ready stack best.
    const worst = s.conditions.find((c) => c.type === 'Stalled') ?? s.conditions.find((c) => c.type === 'Degraded') ?? ready;
    const services = Object.values(s.services);
    const replicas = `${services.reduce((n, x) => n + x.replicas.ready, 0)}/${services.reduce((n, x) => n + x.replicas.desired, 0)}`;
    rows.push([s.stack, ready?.status ?? 'Unknown', worst?.reason ?? '', s.lastAppliedRevision?.slice(0, 7) ?? '-', s.lastAttemptedRevision?.slice(0, 7) ?? '-', replicas, worst?.message ?? '']);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const lines = rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
  const lastError = docs.operator?.['lastError'];
  if (typeof lastError === 'string') lines.push('', `last error: ${lastError}`);
  return `${lines.join('\n')}\n`;
}
