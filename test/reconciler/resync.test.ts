// The periodic resync trigger: a duration fires repeatedly until stopped; a
// cron expression node-cron cannot read is a ConfigError naming --resync.

import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { startResync } from '../../src/reconciler/resync.js';

describe('startResync', () => {
  it('triggers every interval until stopped', async () => {
    const reasons: string[] = [];
    const resync = await startResync({ kind: 'interval', ms: 20 }, (r) => reasons.push(r));
    await expect.poll(() => reasons.length, { timeout: 5000, interval: 10 }).toBeGreaterThanOrEqual(2);
    resync.stop();
    const seen = reasons.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(reasons.length).toBe(seen);
    expect(reasons[0]).toBe('resync');
  });

  it('schedules a valid cron expression and refuses an invalid one', async () => {
    const ok = await startResync({ kind: 'cron', expression: '*/10 * * * *' }, () => undefined);
    ok.stop();
    await expect(startResync({ kind: 'cron', expression: '99 * * * *' }, () => undefined)).rejects.toThrow(ConfigError);
    await expect(startResync({ kind: 'cron', expression: '99 * * * *' }, () => undefined)).rejects.toThrow(/--resync \(CAPSTAN_RESYNC\): "99 \* \* \* \*"/);
  });
});
