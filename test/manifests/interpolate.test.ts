import { describe, expect, it } from 'vitest';
import { interpolateString } from '../../src/manifests/interpolate.js';
import { errorsOf, load, service, svc } from './helpers.js';

const vars: Record<string, string> = { SET: 'v', EMPTY: '' };
const lookup = (n: string): string | undefined => (Object.hasOwn(vars, n) ? vars[n] : undefined);
const run = (s: string) => interpolateString(s, lookup);

describe('interpolateString', () => {
  it.each([
    ['$SET', 'v'],
    ['${SET}', 'v'],
    ['a${SET}b$SET-c', 'avbv-c'],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:-d}', 'v'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${UNSET:-${SET}x}', 'vx'],
    ['$$SET and $${SET}', '$SET and ${SET}'],
    ['cost: 5$$', 'cost: 5$'],
  ])('%s → %s', (input, expected) => {
    const r = run(input);
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(expected);
  });

  it('reports unset variables without a default, and substitutes ""', () => {
    expect(run('a${NOPE}b$NOPE2')).toEqual({ value: 'ab', unset: ['NOPE', 'NOPE2'], error: undefined });
    expect(run('${NOPE:-x}').unset).toEqual([]);
  });

  it('fails on ${VAR:?msg} / ${VAR?msg} when missing', () => {
    expect(run('${UNSET:?set it}').error).toBe('required variable UNSET is missing a value: set it');
    expect(run('${EMPTY:?}').error).toBe('required variable EMPTY is missing a value');
    expect(run('${EMPTY?x}').error).toBeUndefined();
    expect(run('${UNSET?x}').error).toBe('required variable UNSET is missing a value: x');
  });

  it('rejects malformed templates', () => {
    expect(run('${SET').error).toMatch(/missing "}"/);
    expect(run('$1').error).toMatch(/write "\$\$" for a literal "\$"/);
    expect(run('${}').error).toMatch(/does not start with a variable name/);
    expect(run('${SET!x}').error).toMatch(/unexpected "!x" after SET/);
  });
});

describe('interpolation in loadStacks', () => {
  it('takes the stack .env, overridden by the operator env, for values only', () => {
    const s = service(svc('environment:', '  FROM_DOTENV: ${A}', '  OVERRIDDEN: ${B}', '  ${A}: literal-key'), { 'stacks/.env': 'A=dot\nB=dot\n' }, { B: 'op' });
    expect(s.environment).toEqual({ FROM_DOTENV: 'dot', OVERRIDDEN: 'op', '${A}': 'literal-key' });
  });

  it('uses the directory .env for directory stacks', () => {
    const r = load({
      'stacks/shop/compose.yaml': 'services:\n  svc:\n    image: shop:${TAG}\n',
      'stacks/shop/.env': '# tag\nexport TAG="1.2"  \n',
      'stacks/.env': 'TAG=wrong\n',
    });
    expect(r.stacks[0]?.services['svc']?.image).toBe('shop:1.2');
  });

  it('interpolates before validation, so numbers may come from variables', () => {
    const s = service(svc('deploy: { replicas: "${N}" }', 'ports: ["${P}:80"]'), {}, { N: '0', P: '8080' });
    expect(s.replicas).toBe(0);
    expect(s.ports).toEqual([{ hostIp: '', published: 8080, target: 80, protocol: 'tcp' }]);
  });

  it('warns about an unset variable with its position', () => {
    const r = load({ 'stacks/web.yaml': svc('environment: ["X=${MISSING}"]') });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([{ file: 'stacks/web.yaml', line: 4, col: 19, path: 'services.svc.environment[0]', message: 'the "MISSING" variable is not set; defaulting to a blank string' }]);
    expect(r.stacks[0]?.services['svc']?.environment).toEqual({ X: '' });
  });

  it('reports ${VAR:?err} at the scalar', () => {
    const r = load({ 'stacks/web.yaml': 'services:\n  svc:\n    image: "nginx:${TAG:?pin a tag}"\n' });
    expect(errorsOf(r)).toEqual([
      "stacks/web.yaml:3:12 services.svc.image: required variable TAG is missing a value: pin a tag (set the variable in the stack's .env or the operator's environment)",
    ]);
  });

  it('reports a malformed .env line at its position', () => {
    const r = load({ 'stacks/web.yaml': svc(), 'stacks/api.yaml': svc(), 'stacks/.env': 'OK=1\n  9BAD=2\n' });
    expect(errorsOf(r)).toEqual(['stacks/.env:2:3 invalid variable name "9BAD"']);
    expect(r.stacks).toEqual([]);
  });
});
