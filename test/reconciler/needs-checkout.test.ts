// The commit's files are written to disk only when a service needs them: a
// relative bind mount, a build context, or a secret or config file of the repository.
import { describe, expect, it } from 'vitest';
import { buildDesired } from '../../src/desired/build.js';
import { needsCheckout } from '../../src/reconciler/desired-source.js';
import { load } from '../manifests/helpers.js';

function needs(files: Record<string, string>, env: Record<string, string> = {}): boolean {
  const r = load(files, env);
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.format()).join('\n'));
  return needsCheckout(buildDesired('a'.repeat(40), r.stacks));
}

describe('needsCheckout', () => {
  it('is false for images, named volumes, environment secrets and inline configs', () => {
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, volumes: [data:/d], secrets: [s], configs: [c] }\nvolumes: { data: {} }\nsecrets:\n  s: { environment: TOKEN }\nconfigs:\n  c: { content: x }\n' }, { TOKEN: 't' })).toBe(false);
  });
  it('is true for a build, a repository secret file and a relative bind', () => {
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { build: ./app }\n', 'stacks/app/Dockerfile': 'FROM x\n' })).toBe(true);
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, secrets: [s] }\nsecrets:\n  s: { file: ./s.age }\n', 'stacks/s.age': 'x' })).toBe(true);
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, volumes: ["./conf:/etc/conf"] }\n' })).toBe(true);
  });
});
