// Issue 14's operator settings at the boundary: the subnet pool (flag, env,
// settings file), where commit statuses and notifications go (secrets from
// the environment only), and the engine lease.

import { describe, expect, it } from 'vitest';
import { formatCidr } from '../../src/backends/docker/cidr.js';
import { resolveSettings } from '../../src/config/settings.js';

describe('operating settings', () => {
  it('takes the subnet pool from a flag, the env or the settings file, and refuses what cannot be a pool', () => {
    const pool = (s: ReturnType<typeof resolveSettings>): string | undefined => (s.subnetPool === undefined ? undefined : `${formatCidr(s.subnetPool.pool)} /${s.subnetPool.size}`);
    expect(pool(resolveSettings({}, {}))).toBe('10.231.0.0/16 /24');
    expect(pool(resolveSettings({}, {}, { 'subnet-pool': '172.30.0.0/16', 'subnet-size': 26 }))).toBe('172.30.0.0/16 /26');
    expect(pool(resolveSettings({}, { CAPSTAN_SUBNET_POOL: 'none' }, { 'subnet-pool': '172.30.0.0/16' }))).toBeUndefined();
    expect(() => resolveSettings({ subnetPool: '10.231.4.1/16' }, {})).toThrow('--subnet-pool (CAPSTAN_SUBNET_POOL): "10.231.4.1/16" has host bits set: did you mean 10.231.0.0/16?, or none');
    expect(() => resolveSettings({ subnetPool: '10.231.0.0/24', subnetSize: '20' }, {})).toThrow('--subnet-size 20 (CAPSTAN_SUBNET_SIZE): subnets cannot be larger than their pool 10.231.0.0/24');
  });

  it('reads forge and webhook secrets from the environment only, the forge token falling back to the Git token', () => {
    const s = resolveSettings({ commitStatus: 'gitea', forgeApi: 'https://git.example/api/v1', notifyWebhook: 'https://hooks.example/capstan' }, { CAPSTAN_GIT_TOKEN: 'git', CAPSTAN_NOTIFY_WEBHOOK_SECRET: 'sig', CAPSTAN_SLACK_WEBHOOK_URL: 'https://hooks.slack.example/services/T/B/x' });
    expect(s).toMatchObject({ commitStatus: 'gitea', forgeApi: 'https://git.example/api/v1', forgeToken: 'git', notifyWebhookSecret: 'sig', slackWebhookUrl: 'https://hooks.slack.example/services/T/B/x' });
    expect(resolveSettings({}, { CAPSTAN_GIT_TOKEN: 'git', CAPSTAN_FORGE_TOKEN: 'forge' }).forgeToken).toBe('forge');
    expect(resolveSettings({}, {}).commitStatus).toBe('auto');
    expect(() => resolveSettings({ commitStatus: 'bitbucket' }, {})).toThrow(/--commit-status \(CAPSTAN_COMMIT_STATUS\)/);
    expect(() => resolveSettings({ notifyWebhook: 'hooks.example' }, {})).toThrow('--notify-webhook (CAPSTAN_NOTIFY_WEBHOOK): use an http(s) URL');
  });

  it('turns the engine lease on from a flag or the env, its image defaulting to the router image', () => {
    expect(resolveSettings({}, {})).toMatchObject({ engineLease: false, leaseImage: 'capstan:0.1.0' });
    expect(resolveSettings({}, { CAPSTAN_ENGINE_LEASE: 'true', CAPSTAN_ROUTER_IMAGE: 'ops/capstan:1' })).toMatchObject({ engineLease: true, leaseImage: 'ops/capstan:1' });
    expect(resolveSettings({ engineLease: true, leaseImage: 'busybox:1' }, {}).leaseImage).toBe('busybox:1');
  });
});
