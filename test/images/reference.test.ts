import { describe, expect, it } from 'vitest';
import { parseImageRef, repoDigestOf, sameImage, shortDigest } from '../../src/manifests/image-ref.js';

const D = `sha256:${'ab12'.repeat(16)}`;

describe('parseImageRef', () => {
  it('reads the forms Docker reads', () => {
    expect(parseImageRef('redis')).toEqual({ registry: 'docker.io', path: 'library/redis', tag: 'latest', digest: undefined });
    expect(parseImageRef('redis:7.4')).toMatchObject({ path: 'library/redis', tag: '7.4' });
    expect(parseImageRef('team/api:1.4.2')).toMatchObject({ registry: 'docker.io', path: 'team/api' });
    expect(parseImageRef('127.0.0.1:5000/team/api:1.4.2')).toMatchObject({ registry: '127.0.0.1:5000', path: 'team/api', tag: '1.4.2' });
    expect(parseImageRef('localhost/api')).toMatchObject({ registry: 'localhost', path: 'api' });
    expect(parseImageRef(`ghcr.io/o/r@${D}`)).toEqual({ registry: 'ghcr.io', path: 'o/r', tag: undefined, digest: D });
    expect(parseImageRef(`redis:7.4@${D}`)).toMatchObject({ tag: '7.4', digest: D });
  });

  it('refuses what Docker refuses', () => {
    expect(parseImageRef('Team/API:1')).toBeUndefined();
    expect(parseImageRef('redis@sha256:short')).toBeUndefined();
    expect(parseImageRef('')).toBeUndefined();
  });
});

describe('digests', () => {
  it('finds the repo digest of the right repository', () => {
    const digests = [`127.0.0.1:5000/other@sha256:${'0'.repeat(64)}`, `redis@${D}`];
    expect(repoDigestOf(parseImageRef('docker.io/library/redis:7.4')!, digests)).toBe(D);
    expect(repoDigestOf(parseImageRef('127.0.0.1:5000/team/api:1')!, digests)).toBeUndefined();
    expect(shortDigest(D)).toBe('sha256:ab12ab12ab12…');
  });

  it('compares the image a container lists with the one Git names', () => {
    expect(sameImage('redis:7.4', `docker.io/library/redis:7.4@${D}`)).toBe(true);
    expect(sameImage('redis', 'redis:latest')).toBe(true);
    expect(sameImage('redis:7.4', 'redis:7.2')).toBe(false);
    expect(sameImage(`redis@${D}`, `redis@sha256:${'f'.repeat(64)}`)).toBe(false);
  });
});
