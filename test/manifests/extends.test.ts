// `extends` from the same file and from another file: Compose's merge
// (mappings per key, lists appended, volumes by container path, the rest
// replaced), paths rebased to the extending file, and clear errors.
import { describe, expect, it } from 'vitest';
import { errorsOf, load } from './helpers.js';

describe('extends', () => {
  it('merges a base service of the same file', () => {
    const r = load({
      'stacks/web.yaml': [
        'services:',
        '  base:',
        '    image: app:1',
        '    environment: [A=1, B=1]',
        '    ports: ["80"]',
        '    volumes: [data:/data, ./conf:/etc/app]',
        '    healthcheck: { test: [CMD, "true"], interval: 5s }',
        '    command: serve',
        '  web:',
        '    extends: base',
        '    environment: { B: 2, C: 3 }',
        '    ports: ["443"]',
        '    volumes: [./other:/etc/app]',
        '    healthcheck: { test: [CMD, "false"] }',
        '    command: [serve, --debug]',
        'volumes: { data: {} }',
      ].join('\n'),
    });
    expect(errorsOf(r)).toEqual([]);
    const web = r.stacks[0]?.services['web'];
    expect(web).toMatchObject({
      image: 'app:1',
      environment: { A: '1', B: '2', C: '3' },
      command: ['serve', '--debug'],
      healthcheck: { test: ['CMD', 'false'], intervalMs: 5000 },
    });
    expect(web?.ports.map((p) => p.target)).toEqual([80, 443]);
    expect(web?.volumes.map((v) => `${v.source}:${v.target}`)).toEqual(['data:/data', 'stacks/other:/etc/app']);
  });

  it('reads a base from another file and rebases its relative paths', () => {
    const r = load({
      'stacks/shop/compose.yaml': 'services:\n  api:\n    extends: { file: ../common/base.yaml, service: app }\n    image: shop/api:2\n',
      'stacks/common/base.yaml': 'services:\n  app:\n    image: base:1\n    env_file: app.env\n    volumes: [./static:/srv]\n',
      'stacks/common/app.env': 'FROM_BASE=yes\n',
    });
    expect(errorsOf(r).filter((e) => e.startsWith('stacks/shop'))).toEqual([]);
    const api = r.stacks.find((s) => s.name === 'shop')?.services['api'];
    expect(api).toMatchObject({ image: 'shop/api:2', environment: { FROM_BASE: 'yes' } });
    expect(api?.volumes[0]).toMatchObject({ source: 'stacks/common/static', target: '/srv', relative: true });
  });

  it('follows chains and reports cycles, unknown services and missing files', () => {
    const chain = load({ 'stacks/web.yaml': 'services:\n  a: { image: x, labels: { a: "1" } }\n  b: { extends: a, labels: { b: "1" } }\n  c: { extends: b }\n' });
    expect(errorsOf(chain)).toEqual([]);
    expect(chain.stacks[0]?.services['c']?.labels).toEqual({ a: '1', b: '1' });

    expect(errorsOf(load({ 'stacks/web.yaml': 'services:\n  a: { image: x, extends: b }\n  b: { image: y, extends: a }\n' }))).toEqual([
      'stacks/web.yaml:2:27 services.a.extends: extends cycle: stacks/web.yaml#a → stacks/web.yaml#b → stacks/web.yaml#a (remove one of the `extends`)',
      'stacks/web.yaml:3:27 services.b.extends: extends cycle: stacks/web.yaml#b → stacks/web.yaml#a → stacks/web.yaml#b (remove one of the `extends`)',
    ]);
    expect(errorsOf(load({ 'stacks/web.yaml': 'services:\n  a: { image: x, extends: nope }\n' }))).toEqual([
      'stacks/web.yaml:2:27 services.a.extends: extends unknown service "nope" (services there: a)',
    ]);
    expect(errorsOf(load({ 'stacks/web.yaml': 'services:\n  a: { extends: { file: missing.yaml, service: b } }\n' }))).toEqual([
      'stacks/web.yaml:2:17 services.a.extends: extends file "missing.yaml" not found (looked for stacks/missing.yaml) (keep extended files inside the stacks directory)',
    ]);
  });
});
