// The router's edge limits as settings: defaults, flags over env over the
// --config file, bad values named, and the flags a supervisor hands on.

import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { DEFAULT_LIMITS, limitArgs, trustedProxyMatcher } from '../../src/router/limits.js';

describe('router edge limits', () => {
  it('defaults to a hardened edge proxy', () => {
    expect(resolveSettings({}, {}).routerLimits).toEqual({
      headTimeoutMs: 10_000, bodyTimeoutMs: 30_000, keepAliveTimeoutMs: 60_000, tunnelIdleTimeoutMs: 3_600_000, l4IdleTimeoutMs: 3_600_000,
      maxConnections: 10_000, maxConnectionsPerIp: 1_000, trustedProxies: [],
    });
    expect(limitArgs(DEFAULT_LIMITS)).toEqual([]);
  });

  it('takes flags over env over the settings file, and hands the changed ones to the router it starts', () => {
    const limits = resolveSettings(
      { headTimeout: '2s' },
      { CAPSTAN_HEAD_TIMEOUT: '3s', CAPSTAN_MAX_CONNECTIONS_PER_IP: '50' },
      { 'head-timeout': '4s', 'keep-alive-timeout': '15s', 'trusted-proxies': ['10.0.0.0/8', '192.168.1.1'] },
    ).routerLimits;
    expect(limits).toMatchObject({ headTimeoutMs: 2_000, keepAliveTimeoutMs: 15_000, maxConnectionsPerIp: 50, trustedProxies: ['10.0.0.0/8', '192.168.1.1'] });
    expect(limitArgs(limits)).toEqual(['--head-timeout', '2000ms', '--keep-alive-timeout', '15000ms', '--max-connections-per-ip', '50', '--trusted-proxies', '10.0.0.0/8,192.168.1.1']);
    // What the router parses back is the same.
    const args = limitArgs(limits);
    const flags = { headTimeout: args[1], keepAliveTimeout: args[3], maxConnectionsPerIp: args[5], trustedProxies: args[7] };
    expect(resolveSettings(flags, {}).routerLimits).toEqual(limits);
  });

  it('names a bad value', () => {
    expect(() => resolveSettings({ headTimeout: 'soon' }, {})).toThrow(/--head-timeout \(CAPSTAN_HEAD_TIMEOUT\): "soon" is not a duration/);
    expect(() => resolveSettings({ maxConnections: '0' }, {})).toThrow(/--max-connections/);
    expect(() => resolveSettings({ trustedProxies: '10.0.0.0/40' }, {})).toThrow(/"10.0.0.0\/40": \/40 is not a prefix length for IPv4/);
    expect(() => resolveSettings({ trustedProxies: 'proxy.example' }, {})).toThrow(/not an IP address or CIDR range/);
  });

  it('matches trusted proxies by address and range, IPv4-mapped peers included', () => {
    const trusted = trustedProxyMatcher(['10.0.0.0/8', '::1', '192.168.1.1'])!;
    expect(['10.1.2.3', '::ffff:10.9.9.9', '::1', '192.168.1.1', '192.168.1.2', '11.0.0.1', ''].map(trusted)).toEqual([true, true, true, true, false, false, false]);
    expect(trustedProxyMatcher([])).toBeUndefined();
  });
});
