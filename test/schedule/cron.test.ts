// The one cron parser of resync and sync windows: fields, ranges, steps,
// lists, the day-of-month/day-of-week rule, seconds, and the next time a
// schedule fires.

import { describe, expect, it } from 'vitest';
import { cronMatchesMinute, nextCronTime, parseCron, type Cron } from '../../src/schedule/cron.js';

const cron = (text: string): Cron => {
  const c = parseCron(text);
  if (typeof c === 'string') throw new Error(c);
  return c;
};
const minute = (iso: string): number => Date.parse(iso) / 60_000;

describe('cron', () => {
  it('matches minutes by each field, with cron\'s either-day rule when both day fields are restricted', () => {
    const weekdays = cron('0 9-17 * * 1-5');
    expect(cronMatchesMinute(weekdays, minute('2026-11-25T09:00:00Z'))).toBe(true);
    expect(cronMatchesMinute(weekdays, minute('2026-11-25T09:01:00Z'))).toBe(false);
    expect(cronMatchesMinute(weekdays, minute('2026-11-29T09:00:00Z'))).toBe(false);
    // The 1st of the month or any Sunday (7 is Sunday too).
    const either = cron('0 0 1 * 7');
    expect(cronMatchesMinute(either, minute('2026-12-01T00:00:00Z'))).toBe(true);
    expect(cronMatchesMinute(either, minute('2026-11-29T00:00:00Z'))).toBe(true);
    expect(cronMatchesMinute(either, minute('2026-11-30T00:00:00Z'))).toBe(false);
  });

  it('says what is wrong with a schedule it cannot read', () => {
    expect(parseCron('* * *')).toMatch(/has 3 fields/);
    expect(parseCron('60 * * * *')).toBe('"60" is not a minute field within 0-59');
    expect(parseCron('* * * 13 *')).toBe('"13" is not a month field within 1-12');
    expect(parseCron('*/0 * * * *')).toMatch(/not a minute field/);
  });

  it('finds the next time a schedule fires, to the second when it has seconds', () => {
    const after = Date.parse('2026-11-25T10:03:30Z');
    expect(new Date(nextCronTime(cron('*/10 * * * *'), after) ?? 0).toISOString()).toBe('2026-11-25T10:10:00.000Z');
    expect(new Date(nextCronTime(cron('15,45 * * * * *'), after) ?? 0).toISOString()).toBe('2026-11-25T10:03:45.000Z');
    expect(new Date(nextCronTime(cron('0 0 29 2 *'), after) ?? 0).toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(nextCronTime(cron('0 0 31 2 *'), after)).toBeUndefined();
  });
});
