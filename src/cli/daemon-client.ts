// How CLI commands talk to a running daemon's HTTP API on --listen: with the
// API token from the same places the daemon takes it (CAPSTAN_API_TOKEN,
// CAPSTAN_API_TOKEN_FILE, else <data-dir>/api.token), and a short timeout,
// since a daemon on this machine answers in milliseconds. Answers are
// results, not exceptions: callers fall back (to the status branch, the
// engine) and say why.

import type { Settings } from '../config/settings.js';
import { clientApiToken } from '../server/api-token.js';

/** A daemon on this machine answers in milliseconds; one that does not within this is treated as absent. */
export const DAEMON_TIMEOUT_MS = 1500;

export type DaemonAnswer = { ok: true; url: string; body: unknown } | { ok: false; url: string; why: string };

export async function askDaemon(settings: Settings, path: string, init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<DaemonAnswer> {
  const url = `http://${settings.listen}${path}`;
  if (settings.listen.endsWith(':0')) return { ok: false, url, why: `--listen ${settings.listen} names no daemon to ask` };
  const token = clientApiToken(settings);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const timeoutMs = init.timeoutMs ?? DAEMON_TIMEOUT_MS;
  try {
    const res = await fetch(url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 401) {
      const which = token === undefined ? 'no API token was found to send' : 'it refused the API token sent';
      return { ok: false, url, why: `the daemon at ${url} answered 401: ${which} (set CAPSTAN_API_TOKEN or CAPSTAN_API_TOKEN_FILE as the daemon has it, or run with its --data-dir)` };
    }
    if (!res.ok) return { ok: false, url, why: `the daemon at ${url} answered HTTP ${res.status}` };
    return { ok: true, url, body: await res.json() };
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    const detail = typeof cause === 'string' ? ` (${cause})` : err instanceof Error && err.name === 'TimeoutError' ? ` within ${timeoutMs / 1000} s` : '';
    return { ok: false, url, why: `no daemon answers at ${url}${detail}` };
  }
}
