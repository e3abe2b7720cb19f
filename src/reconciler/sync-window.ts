// Sync windows (`--sync-window "deny 0 9-17 * * 1-5"`): when changes may be
// applied. Argo CD's model: a window opens at each minute its cron schedule
// (minute hour day-of-month month day-of-week, UTC) matches and stays open for
// its duration (default 1h). Any open deny window, or allow windows none of
// which is open, closes syncing. Pure: the time is passed in as epoch ms.

import { parseDurationMs } from '../manifests/units.js';

export interface SyncWindow {
  kind: 'allow' | 'deny';
  /** As written, for logs and status. */
  text: string;
  durationMs: number;
  fields: readonly CronField[];
}

/** One cron field as the set of values it matches; `any` marks `*` (matters for the dom/dow rule). */
interface CronField {
  any: boolean;
  values: ReadonlySet<number>;
}

const RANGES: readonly (readonly [number, number])[] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
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
  const fields: CronField[] = [];
  for (let i = 0; i < 5; i++) {
    const [lo, hi] = RANGES[i] ?? [0, 0];
    const field = parseField(parts[i + 1] ?? '', lo, hi);
    if (field === undefined) return `"${text}": "${parts[i + 1] ?? ''}" is not a cron field within ${lo}-${hi}`;
    fields.push(field);
  }
  let durationMs = DEFAULT_DURATION_MS;
  if (parts[6] !== undefined) {
    const ms = parseDurationMs(parts[6]);
    if (ms === undefined || ms < MINUTE_MS || ms > MAX_DURATION_MS) return `"${text}": duration "${parts[6]}" must be between 1m and 168h`;
    durationMs = ms;
  }
  return Object.freeze({ kind, text: text.trim(), durationMs, fields: Object.freeze(fields) });
}

function parseField(text: string, lo: number, hi: number): CronField | undefined {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (m === null) return undefined;
    const from = m[1] === '*' ? lo : Number(m[2]);
    const to = m[1] === '*' ? hi : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? hi : from;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (from < lo || to > hi || from > to || step < 1) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return { any: text === '*', values };
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
  for (let m = nowMinute; m > nowMinute - span; m--) if (matches(w.fields, m)) return true;
  return false;
}

function matches(fields: readonly CronField[], epochMinute: number): boolean {
  const [minute, hour, dom, month, dow] = fields;
  if (minute === undefined || hour === undefined || dom === undefined || month === undefined || dow === undefined) return false;
  const t = utcFields(epochMinute);
  if (!minute.values.has(t.minute) || !hour.values.has(t.hour) || !month.values.has(t.month)) return false;
  const domOk = dom.values.has(t.day);
  const dowOk = dow.values.has(t.weekday) || (t.weekday === 0 && dow.values.has(7));
  // Cron's rule: when both day fields are restricted, either may match.
  if (!dom.any && !dow.any) return domOk || dowOk;
  return domOk && dowOk;
}

/** UTC calendar fields of a minute since the epoch, without Date (civil-from-days, H. Hinnant). */
function utcFields(epochMinute: number): { minute: number; hour: number; day: number; month: number; weekday: number } {
  const days = Math.floor(epochMinute / 1440);
  const inDay = epochMinute - days * 1440;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  // 1970-01-01 was a Thursday (4).
  const weekday = (((days + 4) % 7) + 7) % 7;
  return { minute: inDay % 60, hour: Math.floor(inDay / 60), day, month, weekday };
}
