// The commit's files are written to disk only when a service needs them: a
// bind of tracked files, or a build context; secrets come from Git objects and data directories live elsewhere.
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
  it('is false for images, named volumes, secrets and configs (read from Git objects) and data directories', () => {
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, volumes: [data:/d], secrets: [s], configs: [c] }\nvolumes: { data: {} }\nsecrets:\n  s: { environment: TOKEN }\nconfigs:\n  c: { content: x }\n' }, { TOKEN: 't' })).toBe(false);
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, secrets: [s] }\nsecrets:\n  s: { file: ./s.age }\n', 'stacks/s.age': 'x' })).toBe(false);
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, volumes: ["./data:/data"] }\n' })).toBe(false);
  });
  it('is true for a build and a relative bind of tracked files', () => {
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { build: ./app }\n', 'stacks/app/Dockerfile': 'FROM x\n' })).toBe(true);
    expect(needs({ 'stacks/web.yaml': 'services:\n  a: { image: x, volumes: ["./conf:/etc/conf:ro"] }\n', 'stacks/conf/app.ini': 'a=1\n' })).toBe(true);
  });
});
