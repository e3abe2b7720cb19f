import { describe, expect, it } from 'vitest';
import { buildDesired, dependencyOrder } from '../../src/desired/build.js';
import { canonicalJson, specHash } from '../../src/desired/spec-hash.js';
import type { ServiceSpec, StackSpec } from '../../src/manifests/model.js';
import { load } from '../manifests/helpers.js';

function specOf(yaml: string): ServiceSpec {
  const r = load({ 'stacks/web.yaml': yaml });
  const s = r.stacks[0]?.services['api'];
  if (s === undefined) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return s;
}

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: undefined }], c: null }, u: undefined })).toBe('{"a":{"c":null,"d":[1,{"z":1}]},"b":1}');
  });
});

describe('specHash', () => {
  const base = 'services:\n  api:\n    image: example/api:1.4.1\n';

  it('is a full sha256 hex and stable for the same spec', () => {
    const h = specHash(specOf(`${base}    environment: { A: "1", B: "2" }\n`));
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(specHash(specOf(`${base}    environment: { A: "1", B: "2" }\n`))).toBe(h);
  });

  it('ignores key order and environment order', () => {
    const a = specOf(`${base}    environment: { A: "1", B: "2" }\n    labels: [x=1, y=2]\n`);
    const b = specOf(`services:\n  api:\n    labels: { y: "2", x: "1" }\n    environment: [B=2, A=1]\n    image: example/api:1.4.1\n`);
    expect(specHash(b)).toBe(specHash(a));
  });

  it('ignores replicas', () => {
    expect(specHash(specOf(`${base}    deploy: { replicas: 5 }\n`))).toBe(specHash(specOf(base)));
  });

  it('changes with the image, the environment or a port', () => {
    const h = specHash(specOf(base));
    expect(specHash(specOf(base.replace('1.4.1', '1.4.2')))).not.toBe(h);
    expect(specHash(specOf(`${base}    environment: { A: "1" }\n`))).not.toBe(h);
    expect(specHash(specOf(`${base}    ports: ["80"]\n`))).not.toBe(h);
  });
});

describe('dependencyOrder', () => {
  it('puts dependencies first, ties by name', () => {
    const svc = (deps: string[]) => ({ dependsOn: Object.fromEntries(deps.map((d) => [d, 'service_started'])) });
    expect(dependencyOrder({ web: svc(['api']), api: svc(['db', 'cache']), db: svc([]), cache: svc([]), worker: svc(['db']), admin: svc([]) })).toEqual([
      'admin',
      'cache',
      'db',
      'api',
      'web',
      'worker',
    ]);
  });
  it('does not lose services caught in a cycle', () => {
    const svc = (deps: string[]) => ({ dependsOn: Object.fromEntries(deps.map((d) => [d, 'service_started'])) });
    expect(dependencyOrder({ b: svc(['a']), a: svc(['b']), c: svc([]) })).toEqual(['c', 'a', 'b']);
  });
});

describe('buildDesired', () => {
  it('sorts stacks by name, orders services by depends_on, hashes each, and freezes the result', () => {
    const r = load({
      'stacks/zeta.yaml': 'services:\n  web: { image: w, depends_on: [api] }\n  api: { image: a, depends_on: { db: { condition: service_healthy } } }\n  db: { image: d }\n',
      'stacks/alpha.yaml': 'services:\n  one: { image: o }\n',
    });
    expect(r.errors).toEqual([]);
    const rev = 'c'.repeat(40);
    const d = buildDesired(rev, [...r.stacks].reverse() as StackSpec[]);
    expect(d.revision).toBe(rev);
    expect(d.stacks.map((s) => [s.name, s.file, s.services.map((x) => x.name)])).toEqual([
      ['alpha', 'stacks/alpha.yaml', ['one']],
      ['zeta', 'stacks/zeta.yaml', ['db', 'api', 'web']],
    ]);
    const api = d.stacks[1]?.services[1];
    expect(api?.stack).toBe('zeta');
    expect(api?.specHash).toBe(specHash(r.stacks.find((s) => s.name === 'zeta')?.services['api'] as ServiceSpec));
    expect(Object.isFrozen(d)).toBe(true);
    expect(Object.isFrozen(d.stacks[0]?.services)).toBe(true);
  });
});
