import { describe, expect, it } from 'vitest';
import { findImageSite, setImage, withTag } from '../../src/images/yaml-edit.js';

const compose = `# the shop
name: shop   # trailing comment
services:
  api:
    # pinned by Capstan's image updates
    image: "registry.example/team/api:1.4.2"   # keep me
    x-capstan:
      image_update: { semver: "^1.4" }
  worker:
    extends: api
    command: [work]
  cache:
    image: 'redis:7.4.0-alpine'

  web:   {image: nginx:1.27.0, ports: ["8080:80"]}
`;

describe('setImage', () => {
  it('replaces the scalar alone, in its own quoting, leaving every other byte', () => {
    const out = setImage(compose, 'api', 'registry.example/team/api:1.5.0');
    expect(out).toBe(compose.replace('"registry.example/team/api:1.4.2"', '"registry.example/team/api:1.5.0"'));
    expect(setImage(compose, 'cache', 'redis:7.4.1-alpine')).toBe(compose.replace("'redis:7.4.0-alpine'", "'redis:7.4.1-alpine'"));
    expect(setImage(compose, 'web', 'nginx:1.27.1')).toBe(compose.replace('nginx:1.27.0', 'nginx:1.27.1'));
  });

  it('finds nothing to set on a service without image', () => {
    expect(setImage(compose, 'worker', 'x:1')).toBeUndefined();
  });
});

describe('findImageSite', () => {
  it('follows extends to the service that defines the image, across files', () => {
    const files = new Map([
      ['stacks/shop.yaml', compose],
      ['stacks/other.yaml', 'services:\n  job:\n    extends: { file: lib/base.yaml, service: base }\n'],
      ['stacks/lib/base.yaml', 'services:\n  base:\n    image: team/base:2.0.0\n'],
    ]);
    expect(findImageSite(files, 'stacks/shop.yaml', 'worker')).toEqual({ kind: 'found', site: { file: 'stacks/shop.yaml', service: 'api' }, image: 'registry.example/team/api:1.4.2' });
    expect(findImageSite(files, 'stacks/other.yaml', 'job')).toEqual({ kind: 'found', site: { file: 'stacks/lib/base.yaml', service: 'base' }, image: 'team/base:2.0.0' });
  });

  it('looks into included files for a service the stack file does not define', () => {
    const files = new Map([
      ['stacks/app/compose.yaml', 'include: [db.yaml]\nservices:\n  web: { image: nginx:1 }\n'],
      ['stacks/app/db.yaml', 'services:\n  db:\n    image: postgres:16.1.0\n'],
    ]);
    expect(findImageSite(files, 'stacks/app/compose.yaml', 'db')).toMatchObject({ kind: 'found', site: { file: 'stacks/app/db.yaml', service: 'db' } });
  });

  it('refuses an image built from a variable', () => {
    const files = new Map([['stacks/x.yaml', 'services:\n  api:\n    image: team/api:${API_TAG:-1.0.0}\n']]);
    expect(findImageSite(files, 'stacks/x.yaml', 'api')).toMatchObject({ kind: 'error', message: expect.stringContaining('built from a variable') });
  });
});

describe('withTag', () => {
  it('changes the tag only, registry ports included', () => {
    expect(withTag('127.0.0.1:5000/team/api:1.4.2', '1.5.0')).toBe('127.0.0.1:5000/team/api:1.5.0');
    expect(withTag('redis', '7.4.1')).toBe('redis:7.4.1');
  });
});
