// Git credentials are read only from CAPSTAN_GIT_* variables, a token winning over a user/password pair.

import { describe, expect, it } from 'vitest';
import { credentialsFromEnv } from '../../src/source/credentials.js';

describe('credentialsFromEnv', () => {
  it('maps a token to HTTP Basic with the x-access-token user', () => {
    expect(credentialsFromEnv({ CAPSTAN_GIT_TOKEN: 'ghp_abc' })).toEqual({ username: 'x-access-token', password: 'ghp_abc' });
  });

  it('prefers the token over a username and password', () => {
    expect(credentialsFromEnv({ CAPSTAN_GIT_TOKEN: 't', CAPSTAN_GIT_USERNAME: 'u', CAPSTAN_GIT_PASSWORD: 'p' })).toEqual({ username: 'x-access-token', password: 't' });
  });

  it('takes a username and password pair', () => {
    expect(credentialsFromEnv({ CAPSTAN_GIT_USERNAME: 'deploy', CAPSTAN_GIT_PASSWORD: 'pw' })).toEqual({ username: 'deploy', password: 'pw' });
  });

  it('is undefined when nothing, only half a pair, or an empty token is set', () => {
    expect(credentialsFromEnv({})).toBeUndefined();
    expect(credentialsFromEnv({ CAPSTAN_GIT_USERNAME: 'deploy' })).toBeUndefined();
    expect(credentialsFromEnv({ CAPSTAN_GIT_PASSWORD: 'pw' })).toBeUndefined();
    expect(credentialsFromEnv({ CAPSTAN_GIT_TOKEN: '' })).toBeUndefined();
  });

  it('ignores unrelated variables such as GIT_PASSWORD', () => {
    expect(credentialsFromEnv({ GIT_PASSWORD: 'x', GITHUB_TOKEN: 'y' })).toBeUndefined();
  });
});
