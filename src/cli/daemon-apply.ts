// `capstan apply` while a daemon (`capstan run`) leads the instance: the
// command asks it (POST /api/apply on --listen) to pass every stack in its
// own lanes and waits for the answer, as `argocd app sync` asks the Argo CD
// server, rather than a second process racing the daemon over the same
// containers. A daemon that follows another instance, repository, branch,
// path or backend declines (409), and so does none at all: the command then
// applies by itself, as it always has.
//
// The quick path: src/main.ts calls quickApply before it loads the CLI
// (commander, zod, the YAML parser: most of a command's start-up), so this
// module reads the few flags it needs itself and imports nothing heavy.
// Anything it does not know (a settings file, --force, other flags) leaves the
// question to the full CLI, which asks with its resolved settings.

import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { ApplyError, CapstanError, RolloutHeldError, SyncWindowClosedError } from '../errors.js';
import { applyTarget } from '../reconciler/apply-target.js';
import type { ApplyAnswer, ApplyTarget } from '../server/apply-api.js';
import { clientApiToken } from '../server/api-token.js';

export type DaemonApply =
  | { kind: 'answered'; url: string; answer: ApplyAnswer }
  /** No daemon to ask, or one that will not do it: the command applies by itself (`why` is logged). */
  | { kind: 'declined'; url: string; why: string };

export interface DaemonApplyRequest {
  /** --listen: host:port of the daemon's HTTP API. */
  listen: string;
  token: string | undefined;
  target: ApplyTarget;
}

/** An answer that takes longer than this (a rollout under way) is announced, so the wait is not silent. */
const SLOW_ANSWER_MS = 2000;

/** Nobody listening is known at once; a --listen that does not even connect in this long is taken as no daemon. */
const CONNECT_TIMEOUT_MS = 1500;

/** Asks the daemon; waits as long as its lanes take (a rollout can take minutes), unless the connection drops. */
export function askDaemonToApply(req: DaemonApplyRequest, say: (line: string) => void): Promise<DaemonApply> {
  const url = `http://${req.listen}/api/apply`;
  const body = JSON.stringify(req.target);
  const slow = setTimeout(() => say(`capstan: the daemon at ${url} is applying; waiting for its passes to end (rollouts step at their own pace; Ctrl-C stops only this command)`), SLOW_ANSWER_MS);
  return new Promise<DaemonApply>((resolve) => {
    const declined = (why: string): void => resolve({ kind: 'declined', url, why });
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    if (req.token !== undefined) headers['authorization'] = `Bearer ${req.token}`;
    const r = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => declined(`the daemon at ${url} went away: ${err.message}`));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) {
          const answer = answerOf(text);
          return answer === undefined ? declined(`the daemon at ${url} answered something that is not an apply's answer`) : resolve({ kind: 'answered', url, answer });
        }
        if (res.statusCode === 401) return declined(`the daemon at ${url} refused ${req.token === undefined ? 'to apply without the API token' : 'the API token sent'} (set CAPSTAN_API_TOKEN or CAPSTAN_API_TOKEN_FILE as the daemon has it, or pass its --data-dir)`);
        if (res.statusCode === 404) return declined(`the daemon at ${url} is older and takes no apply`);
        return declined(`the daemon at ${url} answered HTTP ${res.statusCode ?? '?'}: ${messageOf(text)}`);
      });
    });
    // Only until connected: the wait for the lanes has no bound of its own.
    r.setTimeout(CONNECT_TIMEOUT_MS, () => r.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`)));
    r.on('socket', (socket) => socket.once('connect', () => r.setTimeout(0)));
    r.on('error', (err: NodeJS.ErrnoException) => declined(err.code === 'ECONNREFUSED' ? `no daemon listens on ${req.listen}` : `the daemon at ${url} did not answer: ${err.message}`));
    r.end(body);
  }).finally(() => clearTimeout(slow));
}

/**
 * The answer, checked for its shape by hand: zod is among what the quick
 * path does not load, and the daemon is Capstan's own (an older one answers
 * 404), so the shape is all there is to check.
 */
function answerOf(text: string): ApplyAnswer | undefined {
  let a: unknown;
  try {
    a = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof a !== 'object' || a === null) return undefined;
  const o = a as Record<string, unknown>;
  const lists = ['lines', 'failures', 'invalid', 'held', 'awaiting', 'unfinished'].every((k) => Array.isArray(o[k]));
  return lists && typeof o['instance'] === 'string' && typeof o['applied'] === 'number' ? (a as ApplyAnswer) : undefined;
}

function messageOf(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    return typeof m === 'string' ? m : text;
  } catch {
    return text;
  }
}

/**
 * `apply` with only the flags (or env) the quick path knows: what to ask,
 * or undefined to leave it to the full CLI. A settings file may set any of
 * them, so one present (--config, or ./capstan.yaml) leaves it too.
 */
export function quickApplyRequest(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): DaemonApplyRequest | undefined {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (!QUICK_FLAGS.has(name)) return undefined;
    const value = eq < 0 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || value.startsWith('--')) return undefined;
    flags.set(name, value);
  }
  if (existsSync(`${cwd}/capstan.yaml`)) return undefined;
  const setting = (flag: string, name: string, fallback?: string): string | undefined => flags.get(flag) ?? nonEmpty(env[name]) ?? fallback;
  const repo = setting('--repo', 'CAPSTAN_REPO');
  if (repo === undefined) return undefined;
  const dataDir = setting('--data-dir', 'CAPSTAN_DATA_DIR', '.capstan') ?? '.capstan';
  const target: ApplyTarget = {
    instance: setting('--instance', 'CAPSTAN_INSTANCE', 'default') ?? 'default',
    repo,
    branch: setting('--branch', 'CAPSTAN_BRANCH', 'main') ?? 'main',
    path: setting('--path', 'CAPSTAN_PATH', 'stacks') ?? 'stacks',
    backend: setting('--backend', 'CAPSTAN_BACKEND', 'docker') ?? 'docker',
  };
  return {
    listen: setting('--listen', 'CAPSTAN_LISTEN', DEFAULT_LISTEN) ?? DEFAULT_LISTEN,
    token: clientApiToken({ apiToken: nonEmpty(env['CAPSTAN_API_TOKEN']), apiTokenFile: nonEmpty(env['CAPSTAN_API_TOKEN_FILE']), dataDir }),
    target: applyTarget(target, cwd),
  };
}

/** The flags `apply` takes that only say what to apply and where the daemon is; logging ones change nothing the daemon does. */
const QUICK_FLAGS = new Set(['--repo', '--branch', '--path', '--instance', '--data-dir', '--backend', '--listen', '--log-level', '--log-format']);
const DEFAULT_LISTEN = '127.0.0.1:9420';

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** The lines `capstan apply` ends with, whoever made the pass. */
export function appliedLines(instance: string, revision: string | undefined, lines: readonly string[], applied: number, rolloutHeld: boolean, awaiting: ApplyAnswer['awaiting'], daemon: boolean): string[] {
  const sha = (revision ?? '').slice(0, 7);
  const out = [...lines];
  if (lines.length === 0 && !rolloutHeld) out.push(`No changes: instance ${instance} matches ${sha}.`);
  else if (lines.length > 0) out.push(`Applied ${applied} operation${applied === 1 ? '' : 's'}; instance ${instance} now runs ${sha}.`);
  const goesOn = daemon ? 'the daemon goes on from this step once promoted' : 'a daemon (`capstan run`) goes on from this step';
  for (const a of awaiting) out.push(`${a.service}: canary ${a.step}, waiting for \`capstan promote ${a.service}\` (or \`capstan abort\`) to the daemon on --listen; ${goesOn}.`);
  return out;
}

/** Prints the daemon's answer as a one-shot apply prints its own; throws the typed error the command exits 1 with. */
export function printDaemonApply(answer: ApplyAnswer, write: (line: string) => void, warn: (line: string) => void): void {
  const revision = answer.revision ?? '';
  if (answer.error !== undefined) throw new CapstanError(isCode(answer.error.code) ? answer.error.code : 'E_GIT_FETCH', answer.error.message, answer.error.hint === undefined ? {} : { hint: answer.error.hint });
  if (answer.invalid.length > 0) {
    for (const p of answer.invalid) warn(p);
    throw new CapstanError('E_MANIFESTS_INVALID', `${answer.invalid.length} problem${answer.invalid.length === 1 ? '' : 's'} in manifests at ${revision.slice(0, 7)}`, {
      data: { revision, count: answer.invalid.length },
      hint: 'fix the lines above and commit again; what runs now keeps running',
    });
  }
  if (answer.windowHeld !== undefined) throw new SyncWindowClosedError(revision, answer.windowHeld.changes, answer.windowHeld.windows);
  const failures = [
    ...answer.failures.map((f) => ({ operation: f.operation, stack: f.stack, error: new CapstanError(isCode(f.code) ? f.code : 'E_APPLY', f.message, f.hint === undefined ? {} : { hint: f.hint }) })),
    ...answer.unfinished.map((stack) => ({ operation: `pass of ${stack}`, stack, error: new CapstanError('E_APPLY', 'the daemon stopped before the pass ended') })),
  ];
  if (failures.length > 0) {
    for (const line of answer.lines) write(line);
    throw new ApplyError(failures, answer.revision);
  }
  for (const line of appliedLines(answer.instance, answer.revision, answer.lines, answer.applied, answer.held.length > 0, answer.awaiting, true)) write(line);
  if (answer.held.length > 0) throw new RolloutHeldError(revision, answer.held);
}

function isCode(code: string | undefined): code is CapstanError['code'] {
  return code !== undefined && code.startsWith('E_');
}
