// Causes of a recreate for built images and secrets: what changed, named;
// never a secret's content or a build arg's value.
import { describe, expect, it } from 'vitest';
import type { BuildSpec, MountedFile, MountSpec } from '../../src/manifests/model.js';
import { describeSpecChange } from '../../src/plan/spec-diff.js';
import { serviceSpec } from '../helpers/specs.js';

const build: BuildSpec = { context: 'app', dockerfile: 'app/Dockerfile', dockerfileInline: undefined, args: { TOKEN: 'hunter2' }, target: undefined, labels: {}, contextId: 'tree1', dockerfileId: 'blob1', alsoTag: undefined };
const secret: MountedFile = { name: 'db', target: '/run/secrets/db', uid: 0, gid: 0, mode: 0o444, source: { kind: 'repo', path: 'stacks/db.age', encryption: 'age' }, digest: 'blob-a' };

describe('describeSpecChange for builds and secrets', () => {
  it('says which build input changed, by name only', () => {
    const before = serviceSpec({ image: 'shop-api:aaaaaaaaaaaa', build });
    expect(describeSpecChange(before, serviceSpec({ image: 'shop-api:bbbbbbbbbbbb', build: { ...build, contextId: 'tree2' } }))).toEqual(['build shop-api:bbbbbbbbbbbb (context changed)']);
    const args = describeSpecChange(before, serviceSpec({ image: 'shop-api:cccccccccccc', build: { ...build, args: { TOKEN: 'hunter3' }, dockerfileId: 'blob2' } }));
    expect(args).toEqual(['build shop-api:cccccccccccc (Dockerfile changed, args changed: TOKEN)']);
    expect(args.join()).not.toContain('hunter');
    expect(describeSpecChange(serviceSpec({ image: 'example/api:1' }), before)).toEqual(['build shop-api:aaaaaaaaaaaa (was image example/api:1)']);
  });

  it('names secrets whose content, target or presence changed, never their content', () => {
    const before = serviceSpec({ secrets: [secret] });
    expect(describeSpecChange(before, serviceSpec({ secrets: [{ ...secret, digest: 'blob-b' }] }))).toEqual(['secret db content changed']);
    expect(describeSpecChange(before, serviceSpec({ secrets: [{ ...secret, mode: 0o400 }] }))).toEqual(['secret db target, owner or mode changed']);
    expect(describeSpecChange(before, serviceSpec({}))).toEqual(['secret db removed']);
    expect(describeSpecChange(serviceSpec({}), serviceSpec({ configs: [{ ...secret, name: 'nginx' }] }))).toEqual(['config nginx added']);
  });
});

describe('describeSpecChange for relative binds', () => {
  const conf: MountSpec = { type: 'bind', source: 'stacks/conf/nginx.conf', target: '/etc/nginx/nginx.conf', readOnly: true, relative: true, content: 'blob-1' };
  const data: MountSpec = { type: 'bind', source: 'stacks/data', target: '/data', readOnly: false, relative: true, persistent: true };
  const legacy = (m: MountSpec): MountSpec => ({ type: m.type, source: m.source, target: m.target, readOnly: m.readOnly, relative: true });
  it('names a tracked source whose content changed, as the manifest wrote it', () => {
    expect(describeSpecChange(serviceSpec({ volumes: [conf, data] }), serviceSpec({ volumes: [{ ...conf, content: 'blob-2' }, data] }), 'stacks')).toEqual(['bind ./conf/nginx.conf content changed']);
    expect(describeSpecChange(serviceSpec({ volumes: [conf] }), serviceSpec({ volumes: [{ ...conf, content: 'blob-2' }] }), 'stacks/web')).toEqual(['bind ../conf/nginx.conf content changed']);
  });
  it('says where binds made before the tracked/data split go now', () => {
    expect(describeSpecChange(serviceSpec({ volumes: [legacy(conf), legacy(data)] }), serviceSpec({ volumes: [conf, data] }), 'stacks')).toEqual([
      'bind ./conf/nginx.conf now mounted read-only from the revision',
      'bind ./data now persists in the data directory',
    ]);
  });
  it('falls back to "volumes changed" for anything else', () => {
    expect(describeSpecChange(serviceSpec({ volumes: [data] }), serviceSpec({ volumes: [{ ...data, target: '/srv' }] }), 'stacks')).toEqual(['volumes changed']);
    expect(describeSpecChange(serviceSpec({ volumes: [] }), serviceSpec({ volumes: [data] }), 'stacks')).toEqual(['volumes changed']);
  });
});
