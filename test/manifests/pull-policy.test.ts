import { describe, expect, it } from 'vitest';
import { specHash } from '../../src/desired/spec-hash.js';
import { parsePullPolicy } from '../../src/manifests/pull-policy.js';
import { errorsOf, load, service, svc } from './helpers.js';

describe('pull_policy', () => {
  it('reads every value Compose defines', () => {
    expect(parsePullPolicy('missing')).toEqual({ kind: 'missing' });
    expect(parsePullPolicy('if_not_present')).toEqual({ kind: 'missing' });
    expect(parsePullPolicy('never')).toEqual({ kind: 'never' });
    expect(parsePullPolicy('build')).toEqual({ kind: 'build' });
    expect(parsePullPolicy('always')).toEqual({ kind: 'check', everyMs: 0, text: 'always' });
    expect(parsePullPolicy('daily')).toMatchObject({ everyMs: 86_400_000 });
    expect(parsePullPolicy('weekly')).toMatchObject({ everyMs: 7 * 86_400_000 });
    expect(parsePullPolicy('every_12h')).toMatchObject({ everyMs: 12 * 3_600_000 });
    expect(parsePullPolicy('every_2d')).toMatchObject({ everyMs: 2 * 86_400_000 });
    expect(parsePullPolicy('every_soon')).toMatch(/every_<duration>/);
    expect(parsePullPolicy('sometimes')).toMatch(/must be one of/);
  });

  it('is part of the service but not of its spec hash: changing it rolls nothing', () => {
    const plain = service(svc());
    const always = service(svc('pull_policy: always'));
    expect(always.pullPolicy).toEqual({ kind: 'check', everyMs: 0, text: 'always' });
    expect(plain.pullPolicy).toBeUndefined();
    expect(specHash(always)).toBe(specHash(plain));
    const updating = service(svc('x-capstan: { image_update: { semver: "^1.25", interval: 1m } }'));
    expect(updating.capstan.imageUpdate).toEqual({ semver: '^1.25', tagPattern: undefined, intervalMs: 60_000 });
    expect(specHash(updating)).toBe(specHash(plain));
  });

  it('says what is wrong, where', () => {
    expect(errorsOf(load({ 'stacks/web.yaml': svc('pull_policy: sometimes') }))[0]).toMatch(/^stacks\/web.yaml:4:\d+ services.svc.pull_policy: pull_policy must be one of/);
    expect(errorsOf(load({ 'stacks/web.yaml': svc('pull_policy: build') }))[0]).toContain('`pull_policy: build` needs a `build:` section');
    expect(errorsOf(load({ 'stacks/web.yaml': svc('x-capstan: { image_update: { semver: "one point four" } }') }))[0]).toContain('invalid semver range');
    expect(errorsOf(load({ 'stacks/web.yaml': svc('x-capstan: { image_update: { semver: "^1", tag_pattern: "(" } }') }))[0]).toContain('invalid tag_pattern');
  });
});
