// `capstan status`: the stacks' conditions, revisions and replicas as a table
// or JSON; exit 3 when any stack is not Ready. Asks the daemon's HTTP API on
// --listen first (DESIGN §8): it knows the last pass and each service's live
// health. Without a daemon answering, reads the status branch (in a scratch
// clone, so a daemon on the same data dir is never disturbed). printStatus
// takes the same documents from either place and says which it was.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { requireRepo, type Settings } from '../config/settings.js';
import { ConfigError, UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { askDaemon } from './daemon-client.js';
import { renderTable } from './table.js';
import { GitStatusWriter } from '../status/git-writer.js';
import { isReady, type StackStatus } from '../status/model.js';
import { OPERATOR_FILE, parseStackStatus, stackStatusFrom } from '../status/render.js';
import { NO_STATUS_BRANCH } from './status-reporter.js';

export interface StatusDocuments {
  /** Where they came from, for the reader: `capstan/status of <repo>` or the daemon's API. */
  source: string;
  stacks: readonly StackStatus[];
  /** The operator's own document as found (instance, version, backend, lastError). */
  operator: Readonly<Record<string, unknown>> | undefined;
  /** From the daemon only: per service, its live health (message with countdowns, newest log lines). */
  health?: readonly LiveHealth[];
  /** Why the documents cannot say every stack is Ready yet (the daemon has not finished a pass). */
  pending?: string;
}

export const NOT_READY_EXIT = 3;

export async function statusCommand(settings: Settings, logger: Logger, opts: { format: string }): Promise<number> {
  if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format ${opts.format} is not supported`, 'use --format text or --format json');
  return printStatus(await loadStatus(settings, logger), opts.format, (text) => process.stdout.write(text));
}

export async function loadStatus(settings: Settings, logger: Logger): Promise<StatusDocuments> {
  const daemon = await statusFromDaemon(settings, logger);
  if (daemon.docs !== undefined) return daemon.docs;
  if (settings.statusBranch === NO_STATUS_BRANCH) {
    throw new UsageError(`${daemon.why}, and --status-branch is none: there is no status to read`, 'start `capstan run` (or point --listen at its HTTP API), or give the branch the daemon writes to with --status-branch');
  }
  if (settings.repo === undefined) throw new ConfigError(`${daemon.why}, and no repository is given to read ${settings.statusBranch} from`, 'pass --repo URL|PATH (or CAPSTAN_REPO), or point --listen at the daemon');
  logger.debug(`${daemon.why}; reading ${settings.statusBranch}`);
  return readStatusBranch(settings, logger);
}

/** A service's health as /api/status gives it: what `status` and `ps` read of it. */
export const liveHealth = z.object({
  stack: z.string(),
  service: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  crashLoop: z.object({ replica: z.string().optional(), lastLogLines: z.array(z.string()) }).optional(),
  unhealthy: z.array(z.object({ replica: z.string(), probe: z.string(), output: z.string() })).default([]),
  live: z.object({ message: z.string() }),
});
export type LiveHealth = z.infer<typeof liveHealth>;

const apiStatus = z.object({
  instance: z.string(),
  ready: z.boolean(),
  lastSyncTime: z.string().nullable(),
  operator: z.record(z.string(), z.unknown()),
  stacks: z.array(z.unknown()),
  health: z.array(liveHealth).default([]),
});

/** GET /api/status of the daemon on --listen: its documents, or why there are none. */
async function statusFromDaemon(settings: Settings, logger: Logger): Promise<{ docs: StatusDocuments; why?: undefined } | { docs?: undefined; why: string }> {
  const answer = await askDaemon(settings, '/api/status');
  const url = answer.url;
  if (!answer.ok) {
    // A daemon that is there but refuses us is worth a word even when the branch answers instead.
    if (answer.why.includes('answered 401')) logger.warn(answer.why);
    return { why: answer.why };
  }
  const parsed = apiStatus.safeParse(answer.body);
  if (!parsed.success) return { why: `${url} does not answer as a Capstan daemon` };
  const d = parsed.data;
  if (d.instance !== settings.instance) {
    logger.info(`the daemon at ${url} serves instance ${d.instance}, not ${settings.instance}`);
    return { why: `the daemon at ${url} serves another instance (${d.instance})` };
  }
  const stacks = d.stacks.map(stackStatusFrom).filter((s): s is StackStatus => s !== undefined);
  return {
    docs: {
      source: `the daemon at ${url}${d.lastSyncTime === null ? '' : ` (last pass ${d.lastSyncTime.replace(/\.\d{3}Z$/, 'Z')})`}`,
      stacks,
      operator: d.operator,
      health: d.health,
      ...(d.ready ? {} : { pending: 'the daemon has not finished its first pass' }),
    },
  };
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
  const allReady = docs.pending === undefined && docs.stacks.every(isReady);
  if (format === 'json') {
    const extra = { ...(docs.health === undefined ? {} : { health: docs.health }), ...(docs.pending === undefined ? {} : { pending: docs.pending }) };
    write(`${JSON.stringify({ source: docs.source, ready: allReady, operator: docs.operator ?? null, stacks: docs.stacks, ...extra }, null, 2)}\n`);
  } else {
    write(renderStatusTable(docs));
  }
  return allReady ? 0 : NOT_READY_EXIT;
}

export function renderStatusTable(docs: StatusDocuments): string {
  const header = `From ${docs.source}:${docs.pending === undefined ? '' : `\n${docs.pending}.`}`;
  if (docs.stacks.length === 0) return `${header}\nNo stacks.\n`;
  const rows = [['STACK', 'READY', 'REASON', 'APPLIED', 'ATTEMPTED', 'REPLICAS', 'MESSAGE']];
  for (const s of docs.stacks) {
    const ready = s.conditions.find((c) => c.type === 'Ready');
    // The most telling condition: a Stalled or Degraded one explains a not-Ready stack best.
    const worst = s.conditions.find((c) => c.type === 'Stalled') ?? s.conditions.find((c) => c.type === 'Degraded') ?? ready;
    const services = Object.values(s.services);
    const replicas = `${services.reduce((n, x) => n + x.replicas.ready, 0)}/${services.reduce((n, x) => n + x.replicas.desired, 0)}`;
    rows.push([s.stack, ready?.status ?? 'Unknown', worst?.reason ?? '', s.lastAppliedRevision?.slice(0, 7) ?? '-', s.lastAttemptedRevision?.slice(0, 7) ?? '-', replicas, worst?.message ?? '']);
  }
  const lines = [header, ...renderTable(rows)];
  const problems = serviceProblems(docs);
  if (problems.length > 0) lines.push('', ...problems);
  const lastError = docs.operator?.['lastError'];
  if (typeof lastError === 'string') lines.push('', `last error: ${lastError}`);
  return `${lines.join('\n')}\n`;
}

/**
 * A line per service that is not healthy, with the daemon's live words when
 * it was asked (they count down to the next restart), else the file's.
 */
function serviceProblems(docs: StatusDocuments): string[] {
  const out: string[] = [];
  for (const s of docs.stacks) {
    for (const [name, svc] of Object.entries(s.services)) {
      const live = docs.health?.find((h) => h.stack === s.stack && h.service === name && h.status !== 'Healthy');
      const said = [
        ...(svc.crashLoop === undefined ? [] : [`${svc.crashLoop.replica} is crash-looping (exit code ${svc.crashLoop.exitCode ?? '?'})`]),
        ...(svc.unhealthy ?? []).map((u) => `${u.replica} fails ${u.probe}${u.output === '' ? '' : `: ${u.output}`}`),
      ];
      const messages = live !== undefined && svc.crashLoop !== undefined ? [live.live.message, ...said.slice(1)] : said;
      for (const m of messages) out.push(`${s.stack}/${name}: ${m}`);
      const logLines = live?.crashLoop?.lastLogLines ?? svc.crashLoop?.lastLogLines ?? [];
      for (const l of logLines) out.push(`  | ${l}`);
    }
  }
  return out;
}
