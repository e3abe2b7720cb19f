// The trigger settings at the boundary: --resync as a duration or cron,
// sync windows from flags and the env, and the webhook secret from the env only.

import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';

describe('trigger settings', () => {
  it('defaults: resync every 5m, no windows, no secret, API on loopback', () => {
    const s = resolveSettings({}, {});
    expect(s.resync).toEqual({ kind: 'interval', ms: 300_000 });
    expect(s.syncWindows).toEqual([]);
    expect(s.webhookSecret).toBeUndefined();
    expect(s.listen).toBe('127.0.0.1:9420');
  });

  it('reads --resync as a duration or a cron expression, and rejects anything else', () => {
    expect(resolveSettings({ resync: '10m' }, {}).resync).toEqual({ kind: 'interval', ms: 600_000 });
    expect(resolveSettings({}, { CAPSTAN_RESYNC: '*/10 * * * *' }).resync).toEqual({ kind: 'cron', expression: '*/10 * * * *' });
    expect(() => resolveSettings({ resync: 'often' }, {})).toThrow(/--resync \(CAPSTAN_RESYNC\): "often" is neither a duration/);
  });

  it('takes repeated --sync-window flags over ;-separated CAPSTAN_SYNC_WINDOW, and names a bad one', () => {
    const env = { CAPSTAN_SYNC_WINDOW: 'deny 0 9-17 * * 1-5; allow 0 2 * * * 2h' };
    expect(resolveSettings({}, env).syncWindows.map((w) => w.text)).toEqual(['deny 0 9-17 * * 1-5', 'allow 0 2 * * * 2h']);
    expect(resolveSettings({ syncWindow: ['deny 0 0 * * 0'] }, env).syncWindows.map((w) => w.kind)).toEqual(['deny']);
    expect(() => resolveSettings({ syncWindow: ['deny 0 24 * * *'] }, {})).toThrow(/--sync-window \(CAPSTAN_SYNC_WINDOW\): .*"24" is not an? hour field/);
  });

  it('reads the webhook secret from the environment only, never from capstan.yaml', () => {
    expect(resolveSettings({}, { CAPSTAN_WEBHOOK_SECRET: 'x' }).webhookSecret).toBe('x');
    expect(resolveSettings({}, {}, { webhookSecret: 'from-file' }).webhookSecret).toBeUndefined();
  });
});
