// Where the API token comes from: the environment, a 0600 file, or one the
// daemon generates into the data dir (and the CLI reads, never generates);
// a non-loopback --listen refuses a token nobody set.

import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { checkListenToken, clientApiToken, isLoopbackHost, resolveApiToken } from '../../src/server/api-token.js';

const dirs: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'capstan-token-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('API token', () => {
  it('takes CAPSTAN_API_TOKEN first, from the environment only', () => {
    const s = resolveSettings({ dataDir: dir() }, { CAPSTAN_API_TOKEN: 'from-env', CAPSTAN_API_TOKEN_FILE: '/nonexistent' });
    expect(resolveApiToken(s)).toEqual({ value: 'from-env', source: 'env' });
    expect(resolveSettings({}, {}, { apiToken: 'from-yaml' }).apiToken).toBeUndefined();
  });

  it('reads CAPSTAN_API_TOKEN_FILE when it is 0600, and refuses it when others can read it', () => {
    const d = dir();
    const file = join(d, 'token');
    writeFileSync(file, 'from-file\n', { mode: 0o600 });
    const s = resolveSettings({ dataDir: d }, { CAPSTAN_API_TOKEN_FILE: file });
    expect(resolveApiToken(s)).toEqual({ value: 'from-file', source: 'file', path: file });
    expect(clientApiToken(s)).toBe('from-file');
    chmodSync(file, 0o644);
    expect(() => resolveApiToken(s)).toThrow(`the API token file ${file} (CAPSTAN_API_TOKEN_FILE) is readable by others (mode 0644)`);
    expect(() => resolveApiToken(resolveSettings({ dataDir: d }, { CAPSTAN_API_TOKEN_FILE: join(d, 'missing') }))).toThrow(/cannot read the API token file .*missing.*ENOENT/);
  });

  it('generates one into <data-dir>/api.token (0600) when none is set, keeps it across restarts, and the CLI reads it', () => {
    const d = dir();
    const s = resolveSettings({ dataDir: join(d, 'data') }, {});
    expect(clientApiToken(s)).toBeUndefined();
    const first = resolveApiToken(s);
    expect(first.source).toBe('generated');
    expect(first.path).toBe(join(d, 'data', 'api.token'));
    expect(first.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(d, 'data', 'api.token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(d, 'data', 'api.token'), 'utf8').trim()).toBe(first.value);
    expect(resolveApiToken(s).value).toBe(first.value);
    expect(clientApiToken(s)).toBe(first.value);
  });

  it('a non-loopback --listen needs a token the operator set', () => {
    const generated = { value: 'x', source: 'generated' as const, path: '/d/api.token' };
    expect(() => checkListenToken('0.0.0.0:9420', generated)).toThrow('--listen 0.0.0.0:9420 is reachable from other hosts, and no API token is set');
    expect(() => checkListenToken('0.0.0.0:9420', { value: 'x', source: 'env' })).not.toThrow();
    expect(() => checkListenToken('127.0.0.1:9420', generated)).not.toThrow();
    expect(() => checkListenToken('localhost:0', generated)).not.toThrow();
    expect([isLoopbackHost('127.1.2.3'), isLoopbackHost('::1'), isLoopbackHost('10.0.0.1'), isLoopbackHost('127.0.0.1.example')]).toEqual([true, true, false, false]);
  });

  it('--metrics-public comes from the flag or CAPSTAN_METRICS_PUBLIC, off by default', () => {
    expect(resolveSettings({}, {}).metricsPublic).toBe(false);
    expect(resolveSettings({ metricsPublic: true }, {}).metricsPublic).toBe(true);
    expect(resolveSettings({}, { CAPSTAN_METRICS_PUBLIC: '1' }).metricsPublic).toBe(true);
  });
});
