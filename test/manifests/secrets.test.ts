// Secrets and configs: top-level sources (repository file, age file, host
// file under --secrets-dir, allowed environment, inline content), service
// references short and long, Compose's default targets and modes, a digest
// that follows the content without holding it, and errors at their line.
import { describe, expect, it } from 'vitest';
import { contentDigest } from '../../src/manifests/files.js';
import { loadStacks, type LoadResult } from '../../src/manifests/load.js';
import type { ServiceSpec } from '../../src/manifests/model.js';
import { blobId } from '../../src/manifests/repo-tree.js';
import { errorsOf } from './helpers.js';

function loadWith(files: Record<string, string>, opts: { env?: Record<string, string>; host?: Record<string, string> } = {}): LoadResult {
  const digests = new Map(Object.entries(opts.host ?? {}).map(([p, c]) => [p, contentDigest(c)]));
  return loadStacks(new Map(Object.entries(files)), { root: 'stacks', env: opts.env ?? {}, hostFiles: opts.host === undefined ? undefined : { dir: '/etc/capstan/secrets', digests } });
}

function svc(r: LoadResult, name = 'app'): ServiceSpec {
  expect(errorsOf(r)).toEqual([]);
  const s = r.stacks[0]?.services[name];
  if (s === undefined) throw new Error(`no service ${name}`);
  return s;
}

const AGE = '-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n';

describe('secrets and configs', () => {
  it('mounts secrets at /run/secrets/<name> (0444, root) and configs at /<name>, short and long forms', () => {
    const r = loadWith(
      {
        'stacks/shop/compose.yaml': [
          'services:',
          '  app:',
          '    image: app:1',
          '    secrets:',
          '      - db_password',
          '      - { source: api_key, target: key, uid: "1000", gid: 1000, mode: 0400 }',
          '      - { source: api_key, target: /etc/app/key }',
          '    configs:',
          '      - nginx',
          '      - { source: nginx, target: /etc/nginx/nginx.conf, mode: "0440" }',
          'secrets:',
          '  db_password: { file: ./db_password.txt.age }',
          '  api_key: { environment: API_KEY }',
          'configs:',
          '  nginx: { content: "events {}\\n" }',
        ].join('\n'),
        'stacks/shop/db_password.txt.age': AGE,
      },
      { env: { API_KEY: 'k-123' } },
    );
    const s = svc(r);
    expect(s.secrets).toEqual([
      { name: 'db_password', target: '/run/secrets/db_password', uid: 0, gid: 0, mode: 0o444, source: { kind: 'repo', path: 'stacks/shop/db_password.txt.age', encryption: 'age' }, digest: blobId(AGE) },
      { name: 'api_key', target: '/run/secrets/key', uid: 1000, gid: 1000, mode: 0o400, source: { kind: 'env', variable: 'API_KEY' }, digest: contentDigest('k-123') },
      { name: 'api_key', target: '/etc/app/key', uid: 0, gid: 0, mode: 0o444, source: { kind: 'env', variable: 'API_KEY' }, digest: contentDigest('k-123') },
    ]);
    expect(s.configs).toEqual([
      { name: 'nginx', target: '/nginx', uid: 0, gid: 0, mode: 0o444, source: { kind: 'content', content: 'events {}\n' }, digest: contentDigest('events {}\n') },
      { name: 'nginx', target: '/etc/nginx/nginx.conf', uid: 0, gid: 0, mode: 0o440, source: { kind: 'content', content: 'events {}\n' }, digest: contentDigest('events {}\n') },
    ]);
    expect(r.warnings).toEqual([]);
    // Neither the environment value nor a decrypted secret is part of the spec.
    expect(JSON.stringify(s)).not.toContain('k-123');
  });

  it('leaves secrets and configs out of a spec that uses none, so its hash stays what earlier versions computed', () => {
    const s = svc(loadWith({ 'stacks/shop.yaml': 'services:\n  app: { image: app:1 }\n' }));
    expect(Object.keys(s)).not.toContain('secrets');
    expect(Object.keys(s)).not.toContain('configs');
    expect(Object.keys(s)).not.toContain('build');
  });

  it('accepts a plain repository file with a warning that suggests encryption', () => {
    const r = loadWith({ 'stacks/shop.yaml': 'services:\n  app: { image: app:1, secrets: [token] }\nsecrets:\n  token: { file: ./token.txt }\n', 'stacks/token.txt': 'abc' });
    expect(svc(r).secrets?.[0]?.source).toEqual({ kind: 'repo', path: 'stacks/token.txt', encryption: undefined });
    expect(r.warnings.map((w) => `${w.file}:${w.line}:${w.col} ${w.message}`)).toEqual([
      'stacks/shop.yaml:4:18 secret "token" is a plain file in the repository: whoever can read the repository can read it; encrypt it with `capstan secret encrypt token.txt` and point `file:` at the .age file',
    ]);
  });

  it('warns that a Swarm store name is ignored', () => {
    const r = loadWith({ 'stacks/shop.yaml': 'services:\n  app: { image: app:1, configs: [c] }\nconfigs:\n  c: { content: x, name: shop_c_v2 }\n' });
    expect(errorsOf(r)).toEqual([]);
    expect(r.warnings.map((w) => `${w.file}:${w.line}:${w.col} ${w.message}`)).toEqual(["stacks/shop.yaml:4:20 `name` is the config's name in Swarm's store; the docker engine backend ignores it"]);
  });

  it('reads host files only under --secrets-dir, digested so a change on the host rolls the service', () => {
    const manifest = 'services:\n  app: { image: app:1, secrets: [db] }\nsecrets:\n  db: { file: /etc/capstan/secrets/db.txt }\n';
    const first = svc(loadWith({ 'stacks/shop.yaml': manifest }, { host: { '/etc/capstan/secrets/db.txt': 'one' } })).secrets?.[0];
    const second = svc(loadWith({ 'stacks/shop.yaml': manifest }, { host: { '/etc/capstan/secrets/db.txt': 'two' } })).secrets?.[0];
    expect(first?.source).toEqual({ kind: 'host', path: '/etc/capstan/secrets/db.txt', encryption: undefined });
    expect(first?.digest).not.toBe(second?.digest);
    expect(errorsOf(loadWith({ 'stacks/shop.yaml': manifest }))).toEqual([
      'stacks/shop.yaml:4:15 secrets.db.file: secret "db" reads /etc/capstan/secrets/db.txt from the operator host, which is off by default (a Git push must not read arbitrary host files: put the file under a directory and start Capstan with --secrets-dir DIR (CAPSTAN_SECRETS_DIR))',
    ]);
    expect(errorsOf(loadWith({ 'stacks/shop.yaml': manifest.replace('/etc/capstan/secrets/db.txt', '/etc/shadow') }, { host: {} }))).toEqual([
      'stacks/shop.yaml:4:15 secrets.db.file: secret file /etc/shadow is outside --secrets-dir /etc/capstan/secrets (move it under /etc/capstan/secrets, or use a file of the repository)',
    ]);
    expect(errorsOf(loadWith({ 'stacks/shop.yaml': manifest }, { host: {} }))[0]).toContain('secret file /etc/capstan/secrets/db.txt does not exist on the operator host');
  });

  it('reports every misuse at its line', () => {
    const errors = (body: string, files: Record<string, string> = {}, env: Record<string, string> = {}): string[] => errorsOf(loadWith({ 'stacks/shop.yaml': body, ...files }, { env }));
    expect(errors('services:\n  app: { image: app:1, secrets: [nope] }\n')).toEqual([
      'stacks/shop.yaml:2:34 services.app.secrets[0]: secret "nope" is not declared in the top-level `secrets:` (add `secrets: { nope: { file: ./nope.txt } }` at the top level of the file)',
    ]);
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: { file: ./s.enc }\n', { 'stacks/s.enc': '{}' })).toEqual([
      'stacks/shop.yaml:4:14 secrets.s.file: secret file "./s.enc" looks SOPS-encrypted, which Capstan does not decrypt (encrypt the plain file with age instead: `capstan secret encrypt --recipient age1... FILE` writes FILE.age; point `file:` at it)',
    ]);
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: { external: true }\n')).toEqual([
      'stacks/shop.yaml:4:8 secrets.s.external: external secrets are not supported on the docker engine backend (they live in Swarm\'s secret store; declare the secret with `file:` or `environment:` instead)',
    ]);
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: { environment: TOKEN }\n')).toEqual([
      'stacks/shop.yaml:4:21 secrets.s.environment: secret "s" reads the environment variable TOKEN, which is not set or not allowed (set TOKEN in the operator\'s environment and allow it with --allow-env (CAPSTAN_ALLOW_ENV))',
    ]);
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: { file: ../../etc/passwd }\n')[0]).toContain('secret file "../../etc/passwd" points outside the repository');
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: { file: ./gone.txt }\n')[0]).toContain('secret file "./gone.txt" not found at the commit (looked for stacks/gone.txt)');
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: {}\n')[0]).toContain('secret "s" needs a source: `file:` or `environment:`');
    expect(errors('services:\n  app: { image: app:1, secrets: [s] }\nsecrets:\n  s: { content: x }\n')[0]).toContain('secrets.s.content: unknown key');
    expect(errors('services:\n  app: { image: app:1, read_only: true, configs: [c] }\nconfigs:\n  c: { content: x }\n')).toEqual([
      'stacks/shop.yaml:2:24 services.app.read_only: `read_only: true` cannot be combined with secrets or configs yet (Capstan writes them into the container\'s file system before it starts, which a read-only root file system refuses; drop `read_only`, or mount the files with `volumes:`)',
    ]);
    expect(errors('services:\n  app: { image: app:1, configs: [c, { source: c, target: /c }] }\nconfigs:\n  c: { content: x }\n')[0]).toContain('/c is already the target of another secret or config of this service');
    expect(errors('services:\n  app: { image: app:1, configs: [{ source: c, target: ../../etc/passwd }] }\nconfigs:\n  c: { content: x }\n')[0]).toContain('target "../../etc/passwd" leaves the container\'s file system');
    expect(errors('services:\n  app: { image: app:1, configs: [{ source: c, mode: 0999 }] }\nconfigs:\n  c: { content: x }\n')[0]).toContain('mode must be octal permission bits like 0440');
  });
});
