// Sync windows (`--sync-window "deny 0 9-17 * * 1-5"`): when changes may be
// applied. Argo CD's model: a window opens at each minute its cron schedule
// (minute hour day-of-month month day-of-week, UTC) matches and stays open for
// its duration (default 1h). Any open deny window, or allow windows none of
// which is open, closes syncing. The schedule is read by the one cron parser
// (schedule/cron.ts). Pure: the time is passed in as epoch ms.

import { parseDurationMs } from '../manifests/units.js';
import { cronMatchesMinute, parseCron, type Cron } from '../schedule/cron.js';

export interface SyncWindow {
  kind: 'allow' | 'deny';
  /** As written, for logs and status. */
  text: string;
  durationMs: number;
  schedule: Cron;
}

const MINUTE_MS = 60_000;
const DEFAULT_DURATION_MS = 3_600_000;
/** A window longer than a week could always be written as allow/deny without one. */
const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/** Parses `allow|deny <5 cron fields> [duration]`; returns an error message instead of throwing. */
export function parseSyncWindow(text: string): SyncWindow | string {
  const parts = text.trim().split(/\s+/);
  const kind = parts[0];
  if (kind !== 'allow' && kind !== 'deny') return `"${text}": start with allow or deny`;
  if (parts.length !== 6 && parts.length !== 7) return `"${text}": use "${kind} <minute> <hour> <day-of-month> <month> <day-of-week> [duration]"`;
  const schedule = parseCron(parts.slice(1, 6).join(' '));
  if (typeof schedule === 'string') return `"${text}": ${schedule}`;
  let durationMs = DEFAULT_DURATION_MS;
  if (parts[6] !== undefined) {
    const ms = parseDurationMs(parts[6]);
    if (ms === undefined || ms < MINUTE_MS || ms > MAX_DURATION_MS) return `"${text}": duration "${parts[6]}" must be between 1m and 168h`;
    durationMs = ms;
  }
  return Object.freeze({ kind, text: text.trim(), durationMs, schedule });
}

/** Is syncing allowed at `nowMs`? No windows: always. */
export function isSyncAllowed(windows: readonly SyncWindow[], nowMs: number): boolean {
  const open = (w: SyncWindow): boolean => isOpen(w, nowMs);
  if (windows.some((w) => w.kind === 'deny' && open(w))) return false;
  const allows = windows.filter((w) => w.kind === 'allow');
  return allows.length === 0 || allows.some(open);
}

/** Open when the schedule matched some minute in (now - duration, now]. */
function isOpen(w: SyncWindow, nowMs: number): boolean {
  const nowMinute = Math.floor(nowMs / MINUTE_MS);
  const span = Math.ceil(w.durationMs / MINUTE_MS);
  for (let m = nowMinute; m > nowMinute - span; m--) if (cronMatchesMinute(w.schedule, m)) return true;
  return false;
}
