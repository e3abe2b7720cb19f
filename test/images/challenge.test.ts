import { describe, expect, it } from 'vitest';
import { nextLink, parseChallenge } from '../../src/images/challenge.js';

describe('parseChallenge (WWW-Authenticate)', () => {
  it('reads Docker Hub\'s bearer challenge, commas inside quoted values included', () => {
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull,push"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/redis:pull,push' },
    });
  });

  it('reads basic challenges, case-insensitively, and unquoted values', () => {
    expect(parseChallenge('Basic realm="capstan-test"')).toEqual({ scheme: 'basic', params: { realm: 'capstan-test' } });
    expect(parseChallenge('BASIC realm=registry')).toEqual({ scheme: 'basic', params: { realm: 'registry' } });
  });

  it('unescapes quoted pairs and tolerates spaces around "="', () => {
    expect(parseChallenge('Bearer realm = "https://r.example/token?x=\\"1\\"" , service="r"')?.params).toEqual({ realm: 'https://r.example/token?x="1"', service: 'r' });
  });

  it('skips schemes it does not speak for the first Basic or Bearer one', () => {
    expect(parseChallenge('Negotiate, Bearer realm="https://t.example/token"')).toEqual({ scheme: 'bearer', params: { realm: 'https://t.example/token' } });
    expect(parseChallenge('Digest realm="x", nonce="y", Basic realm="z"')).toEqual({ scheme: 'basic', params: { realm: 'z' } });
  });

  it('gives up on nothing usable', () => {
    expect(parseChallenge(undefined)).toBeUndefined();
    expect(parseChallenge('')).toBeUndefined();
    expect(parseChallenge('Negotiate')).toBeUndefined();
    expect(parseChallenge('=garbage')).toBeUndefined();
  });
});

describe('nextLink (tag list pagination)', () => {
  it('resolves the next page against the registry', () => {
    expect(nextLink('</v2/team/api/tags/list?last=1.4.2&n=100>; rel="next"', 'http://127.0.0.1:5000')).toBe('http://127.0.0.1:5000/v2/team/api/tags/list?last=1.4.2&n=100');
    expect(nextLink(null, 'http://x')).toBeUndefined();
    expect(nextLink('</v2/a>; rel="prev"', 'http://x')).toBeUndefined();
  });
});
