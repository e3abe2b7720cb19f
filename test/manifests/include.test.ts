// Top-level `include:` as Compose does it: the included file's services,
// networks, volumes, secrets and configs join the stack; paths and
// variables resolve against the included file; conflicts, cycles and
// missing files are errors that name the included file's own lines.
import { describe, expect, it } from 'vitest';
import { errorsOf, load } from './helpers.js';

describe('include', () => {
  it('joins the included services, with their own relative paths and .env, into the stack', () => {
    const r = load({
      'stacks/shop/compose.yaml': 'include:\n  - lib/db.yaml\nservices:\n  web:\n    image: web:1\n    depends_on: [db]\n    networks: [back]\n',
      'stacks/shop/lib/db.yaml': 'services:\n  db:\n    image: postgres:${PG}\n    volumes: [./init:/docker-entrypoint-initdb.d:ro, data:/var/lib/postgresql/data]\n    networks: [back]\nnetworks:\n  back: {}\nvolumes:\n  data: {}\n',
      'stacks/shop/lib/.env': 'PG=16\n',
    });
    expect(errorsOf(r)).toEqual([]);
    const stack = r.stacks[0];
    expect(stack?.name).toBe('shop');
    expect(Object.keys(stack?.services ?? {})).toEqual(['db', 'web']);
    expect(stack?.services['db']?.image).toBe('postgres:16');
    expect(stack?.services['db']?.volumes.map((v) => `${v.source}:${v.target}`)).toEqual(['stacks/shop/lib/init:/docker-entrypoint-initdb.d', 'data:/var/lib/postgresql/data']);
    expect(Object.keys(stack?.networks ?? {})).toEqual(['back']);
    expect(stack?.volumes['data']?.engineName).toBe('shop_data');
  });

  it('reads the long form: project_directory for relative paths, env_file for variables', () => {
    const r = load({
      'stacks/shop/compose.yaml': 'include:\n  - path: ../lib/cache.yaml\n    project_directory: .\n    env_file: [cache.env]\n',
      'stacks/lib/cache.yaml': 'services:\n  cache:\n    image: redis:${REDIS}\n    volumes: [./redis.conf:/etc/redis.conf:ro]\n',
      'stacks/shop/cache.env': 'REDIS=7\n',
    });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks[0]?.services['cache']).toMatchObject({ image: 'redis:7', volumes: [{ source: 'stacks/shop/redis.conf', target: '/etc/redis.conf' }] });
  });

  it('lets the operator environment win over an included file\'s .env, as the shell wins in Compose', () => {
    const r = load({ 'stacks/shop/compose.yaml': 'include: [db.yaml]\n', 'stacks/shop/db.yaml': 'services:\n  db: { image: "postgres:${PG}" }\n', 'stacks/shop/.env': 'PG=15\n' }, { PG: '17' });
    expect(r.stacks[0]?.services['db']?.image).toBe('postgres:17');
  });

  it('follows nested includes and reports cycles, missing files and conflicts at the included file\'s own lines', () => {
    const nested = load({
      'stacks/shop/compose.yaml': 'include: [a.yaml]\nservices:\n  web: { image: web:1 }\n',
      'stacks/shop/a.yaml': 'include: [b.yaml]\nservices:\n  a: { image: a:1 }\n',
      'stacks/shop/b.yaml': 'services:\n  b: { image: b:1 }\n',
    });
    expect(errorsOf(nested)).toEqual([]);
    expect(Object.keys(nested.stacks[0]?.services ?? {})).toEqual(['a', 'b', 'web']);

    expect(errorsOf(load({ 'stacks/shop/compose.yaml': 'include: [a.yaml]\nservices:\n  web: { image: web:1 }\n', 'stacks/shop/a.yaml': 'include: [compose.yaml]\n' }))).toEqual([
      'stacks/shop/a.yaml:1:11 include[0]: include cycle: stacks/shop/compose.yaml → stacks/shop/a.yaml → stacks/shop/compose.yaml (remove one of the includes)',
    ]);
    expect(errorsOf(load({ 'stacks/shop/compose.yaml': 'include:\n  - nope.yaml\n' }))).toEqual([
      'stacks/shop/compose.yaml:2:5 include[0]: included file "nope.yaml" not found (looked for stacks/shop/nope.yaml) (keep included files inside the stacks directory)',
    ]);
    expect(errorsOf(load({ 'stacks/shop/compose.yaml': 'include: [db.yaml]\nservices:\n  db: { image: mine:1 }\n', 'stacks/shop/db.yaml': '# the database\nservices:\n  db: { image: postgres:16 }\n' }))).toEqual([
      'stacks/shop/db.yaml:3:3 services.db: service "db" is also defined in stacks/shop/compose.yaml (rename one of them: an included file cannot redefine a service)',
    ]);
    expect(errorsOf(load({ 'stacks/shop/compose.yaml': 'include: [db.yaml]\nservices:\n  web: { image: w:1, networks: [n] }\nnetworks:\n  n: { internal: true }\n', 'stacks/shop/db.yaml': 'services:\n  db: { image: p:1, networks: [n] }\nnetworks:\n  n: {}\n' }))).toEqual([
      'stacks/shop/db.yaml:4:3 networks.n: network "n" is declared differently in stacks/shop/compose.yaml (declare it once, or the same way in both files)',
    ]);
    expect(errorsOf(load({ 'stacks/shop/compose.yaml': 'include: [db.yaml]\n', 'stacks/shop/db.yaml': 'services:\n  db:\n    image: p:1\n    restart: sometimes\n' }))).toEqual([
      'stacks/shop/db.yaml:4:14 services.db.restart: restart must be one of "no", "always", "on-failure[:N]", "unless-stopped", got "sometimes"',
    ]);
  });

  it('refuses to include a file that is a stack of its own, and paths outside the repository', () => {
    expect(errorsOf(load({ 'stacks/web.yaml': 'include: [db.yaml]\nservices:\n  web: { image: w:1 }\n', 'stacks/db.yaml': 'services:\n  db: { image: p:1 }\n' }))).toEqual([
      'stacks/web.yaml:1:11 include[0]: included file stacks/db.yaml is a stack of its own, so its services would run twice (move it into a subdirectory without a compose.yaml (e.g. stacks/lib/), or stop including it)',
    ]);
    expect(errorsOf(load({ 'stacks/web.yaml': 'include: [../../x.yaml]\n' }))[0]).toContain('included file "../../x.yaml" points outside the repository');
    expect(errorsOf(load({ 'stacks/web.yaml': 'include: [{ path: [a.yaml, b.yaml] }]\n' }))[0]).toContain('including several files merged into one (a list under `path`) is not supported yet');
  });
});
