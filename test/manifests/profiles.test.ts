// Compose profiles: a service with `profiles:` runs only when one of them is
// active (--profile / COMPOSE_PROFILES, "*" for all); it is validated either way.
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import { errorsOf } from './helpers.js';

const STACK = ['services:', '  app: { image: app:1 }', '  debug: { image: busybox, profiles: [debug] }', '  admin: { image: adminer, profiles: [tools, debug] }', ''].join('\n');

function services(profiles: string[] | undefined, body = STACK): string[] {
  const r = loadStacks(new Map([['stacks/web.yaml', body]]), { root: 'stacks', env: {}, profiles });
  expect(errorsOf(r)).toEqual([]);
  return Object.keys(r.stacks[0]?.services ?? {});
}

describe('profiles', () => {
  it('leaves services with profiles out unless one of their profiles is active', () => {
    expect(services(undefined)).toEqual(['app']);
    expect(services(['tools'])).toEqual(['admin', 'app']);
    expect(services(['debug'])).toEqual(['admin', 'app', 'debug']);
    expect(services(['*'])).toEqual(['admin', 'app', 'debug']);
  });
  it('still validates inactive services', () => {
    const r = loadStacks(new Map([['stacks/web.yaml', 'services:\n  app: { image: a }\n  dbg: { image: b, profiles: [debug], portz: [] }\n']]), { root: 'stacks', env: {} });
    expect(errorsOf(r)).toEqual(['stacks/web.yaml:3:39 services.dbg.portz: unknown key (did you mean "ports"?)']);
  });
  it('reports a dependency on a service whose profile is inactive', () => {
    const r = loadStacks(new Map([['stacks/web.yaml', 'services:\n  app: { image: a, depends_on: [db] }\n  db: { image: b, profiles: [db] }\n']]), { root: 'stacks', env: {} });
    expect(errorsOf(r)).toEqual([
      'stacks/web.yaml:2:33 services.app.depends_on[0]: service "db" is needed by "app" but none of its profiles (db) is active (activate one with --profile or COMPOSE_PROFILES, or remove the dependency)',
    ]);
  });
  it('rejects malformed profile names', () => {
    const r = loadStacks(new Map([['stacks/web.yaml', 'services:\n  app: { image: a, profiles: ["-x"] }\n']]), { root: 'stacks', env: {} });
    expect(errorsOf(r)).toEqual(['stacks/web.yaml:2:31 services.app.profiles[0]: a profile name uses letters, digits, "_", "." or "-"']);
  });
});
