// The one cron parser: `--resync "*/10 * * * *"` and sync windows
// (`deny 0 9-17 * * 1-5`) read their schedules here. Five fields (minute hour
// day-of-month month day-of-week), or six with seconds first; `*`, lists,
// ranges and steps; day-of-week 0 or 7 is Sunday; when both day fields are
// restricted either may match (cron's rule). Times are UTC. Pure: the time
// comes in as epoch ms, and the calendar is computed without Date.

export interface Cron {
  /** As written. */
  text: string;
  /** Undefined with five fields: the schedule fires at second 0. */
  seconds: CronField | undefined;
  minute: CronField;
  hour: CronField;
  dom: CronField;
  month: CronField;
  dow: CronField;
}

/** One field as the set of values it matches; `any` marks `*` (matters for the day rule). */
export interface CronField {
  any: boolean;
  values: ReadonlySet<number>;
}

const RANGES: readonly (readonly [number, number])[] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
const NAMES = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const ARTICLE = ['a', 'an', 'a', 'a', 'a'];

/** A schedule, or why the text is not one. */
export function parseCron(text: string): Cron | string {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return `"${text.trim()}" has ${parts.length} fields; a cron schedule has 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`;
  const seconds = parts.length === 6 ? parseField(parts[0] ?? '', 0, 59) : undefined;
  if (parts.length === 6 && seconds === undefined) return `"${parts[0] ?? ''}" is not a seconds field within 0-59`;
  const rest = parts.slice(parts.length - 5);
  const fields: CronField[] = [];
  for (let i = 0; i < 5; i++) {
    const [lo, hi] = RANGES[i] ?? [0, 0];
    const field = parseField(rest[i] ?? '', lo, hi);
    if (field === undefined) return `"${rest[i] ?? ''}" is not ${ARTICLE[i] ?? 'a'} ${NAMES[i] ?? ''} field within ${lo}-${hi}`;
    fields.push(field);
  }
  const [minute, hour, dom, month, dow] = fields as [CronField, CronField, CronField, CronField, CronField];
  return { text: text.trim(), seconds, minute, hour, dom, month, dow };
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

/** Does the schedule match the minute `epochMinute` (minutes since the epoch, UTC)? Seconds are not looked at. */
export function cronMatchesMinute(cron: Cron, epochMinute: number): boolean {
  const t = utcFields(epochMinute);
  if (!cron.minute.values.has(t.minute) || !cron.hour.values.has(t.hour) || !cron.month.values.has(t.month)) return false;
  const domOk = cron.dom.values.has(t.day);
  const dowOk = cron.dow.values.has(t.weekday) || (t.weekday === 0 && cron.dow.values.has(7));
  if (!cron.dom.any && !cron.dow.any) return domOk || dowOk;
  return domOk && dowOk;
}

/** The first time (epoch ms, whole seconds) after `afterMs` the schedule fires; undefined when none within ~5 years (e.g. 31 February). */
export function nextCronTime(cron: Cron, afterMs: number): number | undefined {
  const seconds = cron.seconds === undefined ? [0] : [...cron.seconds.values].sort((a, b) => a - b);
  const firstSecond = Math.floor(afterMs / 1000) + 1;
  let minute = Math.floor(firstSecond / 60);
  for (let i = 0; i < 5 * 366 * 1440; i++, minute++) {
    if (!cronMatchesMinute(cron, minute)) continue;
    const s = seconds.find((x) => minute * 60 + x >= firstSecond);
    if (s !== undefined) return (minute * 60 + s) * 1000;
  }
  return undefined;
}

/** UTC calendar fields of a minute since the epoch (civil-from-days, H. Hinnant). */
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
