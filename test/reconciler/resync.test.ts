// The periodic resync trigger on vitest's fake clock: a duration fires every
// interval until stopped; a cron expression fires at its next matching time
// (schedule/cron.ts), and one the parser cannot read is a ConfigError naming
// --resync and the field.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { startResync } from '../../src/reconciler/resync.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('startResync', () => {
  it('triggers every interval until stopped', async () => {
    vi.useFakeTimers();
    const reasons: string[] = [];
    const resync = await startResync({ kind: 'interval', ms: 20 }, (r) => reasons.push(r));
    vi.advanceTimersByTime(45);
    expect(reasons).toEqual(['resync', 'resync']);
    resync.stop();
    vi.advanceTimersByTime(1000);
    expect(reasons).toHaveLength(2);
  });

  it('fires a cron schedule at its next matching minute, again at the one after, and never after stop', async () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 10, 25, 10, 3, 30) });
    const reasons: string[] = [];
    const resync = await startResync({ kind: 'cron', expression: '*/10 * * * *' }, (r) => reasons.push(r));
    vi.advanceTimersByTime(6 * 60_000 + 29_000);
    expect(reasons).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(reasons).toEqual(['resync (cron)']);
    vi.advanceTimersByTime(10 * 60_000);
    expect(reasons).toHaveLength(2);
    resync.stop();
    vi.advanceTimersByTime(60 * 60_000);
    expect(reasons).toHaveLength(2);
  });

  it('refuses a schedule it cannot read', async () => {
    await expect(startResync({ kind: 'cron', expression: '99 * * * *' }, () => undefined)).rejects.toThrow(ConfigError);
    await expect(startResync({ kind: 'cron', expression: '99 * * * *' }, () => undefined)).rejects.toThrow(/--resync \(CAPSTAN_RESYNC\): "99" is not a minute field within 0-59/);
  });
});
