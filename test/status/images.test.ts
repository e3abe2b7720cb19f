import { describe, expect, it } from 'vitest';
import { LABEL } from '../../src/desired/labels.js';
import { runningImage, stackConditions } from '../../src/status/model.js';
import { desiredService, observedReplica } from '../helpers/specs.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const cache = desiredService('web', 'cache', { image: 'redis:7.4', replicas: 2 });
const made = (n: number, digest: string | undefined) => {
  const c = observedReplica(cache, n);
  return digest === undefined ? c : { ...c, labels: { ...c.labels, [LABEL.imageDigest]: digest } };
};

describe('status says which digest runs', () => {
  it('adds the repo digest every replica of the spec runs', () => {
    expect(runningImage('redis:7.4', cache.specHash, [made(1, D1), made(2, D1)])).toBe(`redis:7.4@${D1}`);
  });

  it('keeps Git\'s reference while replicas disagree, carry none, or Git pins one', () => {
    expect(runningImage('redis:7.4', cache.specHash, [made(1, D1), made(2, D2)])).toBe('redis:7.4');
    expect(runningImage('redis:7.4', cache.specHash, [made(1, undefined)])).toBe('redis:7.4');
    expect(runningImage(`redis:7.4@${D2}`, cache.specHash, [made(1, D1)])).toBe(`redis:7.4@${D2}`);
  });

  it('an image that cannot be pulled degrades the stack with reason ImagePullFailed', () => {
    const failure = 'web/cache: cannot pull image redis:7.5 from docker.io: manifest unknown';
    const conditions = stackConditions({ kind: 'apply-failed', failures: [failure], imagePulls: [failure] }, {}, [], 'a'.repeat(40));
    expect(conditions).toEqual([
      { type: 'Ready', status: 'False', reason: 'ImagePullFailed', message: failure },
      { type: 'Reconciling', status: 'True', reason: 'RetryingApply', message: 'applying aaaaaaa failed; retrying' },
      { type: 'Degraded', status: 'True', reason: 'ImagePullFailed', message: `${failure}; what runs keeps running` },
    ]);
  });
});
