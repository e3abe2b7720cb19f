// Sync windows as a pure function of the time: cron fields, durations, deny
// over allow, the day-of-month/day-of-week rule, and parse errors.

import { describe, expect, it } from 'vitest';
import { isSyncAllowed, parseSyncWindow, type SyncWindow } from '../../src/config/sync-window.js';

function w(text: string): SyncWindow {
  const parsed = parseSyncWindow(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}
/** 2026-11-25 is a Wednesday. */
const at = (day: number, hour: number, minute = 0): number => Date.UTC(2026, 10, day, hour, minute);

describe('isSyncAllowed', () => {
  const officeHours = [w('deny 0 9-17 * * 1-5')];

  it('allows everything without windows', () => {
    expect(isSyncAllowed([], at(25, 12))).toBe(true);
  });

  it('denies during weekday office hours (each matching hour opens for 1h), allows outside', () => {
    expect(isSyncAllowed(officeHours, at(25, 8, 59))).toBe(true);
    expect(isSyncAllowed(officeHours, at(25, 9, 0))).toBe(false);
    expect(isSyncAllowed(officeHours, at(25, 17, 59))).toBe(false);
    expect(isSyncAllowed(officeHours, at(25, 18, 0))).toBe(true);
    // Saturday 28th.
    expect(isSyncAllowed(officeHours, at(28, 12))).toBe(true);
  });

  it('an allow window with a duration is the only time syncing happens', () => {
    const nightly = [w('allow 0 2 * * * 2h')];
    expect(isSyncAllowed(nightly, at(25, 1, 59))).toBe(false);
    expect(isSyncAllowed(nightly, at(25, 2, 0))).toBe(true);
    expect(isSyncAllowed(nightly, at(25, 3, 59))).toBe(true);
    expect(isSyncAllowed(nightly, at(25, 4, 0))).toBe(false);
  });

  it('deny wins over an open allow window', () => {
    const windows = [w('allow * * * * *'), w('deny 30 12 25 11 * 30m')];
    expect(isSyncAllowed(windows, at(25, 12, 29))).toBe(true);
    expect(isSyncAllowed(windows, at(25, 12, 45))).toBe(false);
    expect(isSyncAllowed(windows, at(25, 13, 0))).toBe(true);
  });

  it('restricted day-of-month and day-of-week match either, as in cron', () => {
    const windows = [w('deny 0 0 1 * 3 24h')];
    expect(isSyncAllowed(windows, at(25, 12))).toBe(false); // a Wednesday
    expect(isSyncAllowed(windows, at(26, 12))).toBe(true);
    expect(isSyncAllowed(windows, Date.UTC(2026, 11, 1, 12))).toBe(false); // the 1st (a Tuesday)
  });

  it('reads steps, lists and 7 as Sunday', () => {
    const windows = [w('deny */15 * * * 6,7 1m')];
    expect(isSyncAllowed(windows, Date.UTC(2026, 10, 29, 10, 30))).toBe(false); // Sunday 10:30
    expect(isSyncAllowed(windows, Date.UTC(2026, 10, 29, 10, 31))).toBe(true);
    expect(isSyncAllowed(windows, at(25, 10, 30))).toBe(true);
  });
});

describe('parseSyncWindow', () => {
  it('names what is wrong', () => {
    expect(parseSyncWindow('block 0 9 * * *')).toMatch(/start with allow or deny/);
    expect(parseSyncWindow('deny 0 9 * *')).toMatch(/<minute> <hour>/);
    expect(parseSyncWindow('deny 0 25 * * *')).toMatch(/"25" is not an hour field within 0-23/);
    expect(parseSyncWindow('deny 0 9 * * * 10s')).toMatch(/duration "10s"/);
  });
});
