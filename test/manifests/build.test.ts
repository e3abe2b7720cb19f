// `build:` against the repository at the commit: short and long forms fold
// into one BuildSpec; the image tag is named by the build inputs, so it
// stays for an unchanged context and moves for any change; bad contexts and
// Dockerfiles are errors at their line.
import { describe, expect, it } from 'vitest';
import { loadStacks } from '../../src/manifests/load.js';
import type { ServiceSpec } from '../../src/manifests/model.js';
import { treeFromFiles, type RepoTree } from '../../src/manifests/repo-tree.js';
import { errorsOf } from './helpers.js';

const DOCKERFILE = 'FROM capstan/busybox:latest\nCOPY . /app\n';

function loadWith(files: Record<string, string>, opts: { env?: Record<string, string>; tree?: RepoTree } = {}) {
  return loadStacks(new Map(Object.entries(files)), { root: 'stacks', env: opts.env ?? {}, tree: opts.tree });
}

function built(files: Record<string, string>, env: Record<string, string> = {}): ServiceSpec {
  const r = loadWith(files, { env });
  expect(errorsOf(r)).toEqual([]);
  const s = r.stacks[0]?.services['api'];
  if (s === undefined) throw new Error('no service api');
  return s;
}

const app = { 'stacks/shop/app/Dockerfile': DOCKERFILE, 'stacks/shop/app/server.js': 'console.log(1)\n' };

describe('build', () => {
  it('folds the short form into a build of the context with its Dockerfile, tagged <stack>-<service>:<id>', () => {
    const s = built({ 'stacks/shop/compose.yaml': 'services:\n  api:\n    build: ./app\n', ...app });
    const tree = treeFromFiles(new Map(Object.entries({ 'stacks/shop/compose.yaml': '', ...app })));
    expect(s.image).toMatch(/^shop-api:[0-9a-f]{12}$/);
    expect(s.build).toEqual({
      context: 'stacks/shop/app',
      dockerfile: 'stacks/shop/app/Dockerfile',
      dockerfileInline: undefined,
      args: {},
      target: undefined,
      labels: {},
      contextId: tree.get('stacks/shop/app')?.id,
      dockerfileId: tree.get('stacks/shop/app/Dockerfile')?.id,
      alsoTag: undefined,
    });
  });

  it('reads the long form: dockerfile, args (list or map, bare names from the environment), target, labels, image as an extra tag', () => {
    const s = built(
      {
        'stacks/shop/compose.yaml': [
          'services:',
          '  api:',
          '    image: shop/api:latest',
          '    build:',
          '      context: app',
          '      dockerfile: docker/Prod.Dockerfile',
          '      args: [VERSION=1.2, FROM_ENV, UNSET]',
          '      target: runtime',
          '      labels: { team: shop }',
        ].join('\n'),
        'stacks/shop/app/docker/Prod.Dockerfile': DOCKERFILE,
      },
      { FROM_ENV: 'yes' },
    );
    expect(s.build).toMatchObject({
      context: 'stacks/shop/app',
      dockerfile: 'stacks/shop/app/docker/Prod.Dockerfile',
      args: { VERSION: '1.2', FROM_ENV: 'yes' },
      target: 'runtime',
      labels: { team: 'shop' },
      alsoTag: 'shop/api:latest',
    });
    expect(s.image).toMatch(/^shop-api:/);
  });

  it('takes dockerfile_inline, and a Dockerfile beside the context', () => {
    const inline = built({ 'stacks/shop/compose.yaml': 'services:\n  api:\n    build: { context: ., dockerfile_inline: "FROM capstan/busybox:latest" }\n' });
    expect(inline.build).toMatchObject({ context: 'stacks/shop', dockerfile: undefined, dockerfileInline: 'FROM capstan/busybox:latest', dockerfileId: undefined });
    const outside = built({ 'stacks/shop/compose.yaml': 'services:\n  api:\n    build: { context: ./app, dockerfile: ../Dockerfile }\n', 'stacks/shop/Dockerfile': DOCKERFILE, 'stacks/shop/app/x': '' });
    expect(outside.build?.dockerfile).toBe('stacks/shop/Dockerfile');
  });

  it('keeps the tag while nothing that goes into the image changes, and moves it when anything does', () => {
    const manifest = 'services:\n  api:\n    build: { context: ./app, args: { V: "1" } }\n';
    const tag = (files: Record<string, string>): string => built({ 'stacks/shop/compose.yaml': manifest, ...files }).image;
    const base = tag(app);
    // Another file of the stack (outside the context) is not an input.
    expect(tag({ ...app, 'stacks/shop/README.md': 'docs\n' })).toBe(base);
    expect(tag({ ...app, 'stacks/shop/app/server.js': 'console.log(2)\n' })).not.toBe(base);
    expect(tag({ ...app, 'stacks/shop/app/Dockerfile': `${DOCKERFILE}USER 1000\n` })).not.toBe(base);
    expect(built({ 'stacks/shop/compose.yaml': manifest.replace('"1"', '"2"'), ...app }).image).not.toBe(base);
  });

  it('lets a service that names the built image run the same build, so it rolls with it', () => {
    const r = loadWith({ 'stacks/shop/compose.yaml': 'services:\n  api:\n    image: shop/app\n    build: ./app\n  worker:\n    image: shop/app:latest\n    command: [work]\n', ...app });
    expect(errorsOf(r)).toEqual([]);
    const api = r.stacks[0]?.services['api'];
    const worker = r.stacks[0]?.services['worker'];
    expect(worker?.image).toBe(api?.image);
    expect(worker?.build).toEqual(api?.build);
    expect(worker?.command).toEqual(['work']);
  });

  it('names the built image after the service as a valid Docker reference', () => {
    const s = built({ 'stacks/Shop_1.yaml': 'services:\n  api:\n    build: ./app\n', 'stacks/app/Dockerfile': DOCKERFILE });
    expect(s.image).toMatch(/^shop_1-api:[0-9a-f]{12}$/);
  });

  it('reports contexts and Dockerfiles that are not in the repository, at their line', () => {
    const errors = (body: string, files: Record<string, string> = {}): string[] => errorsOf(loadWith({ 'stacks/shop/compose.yaml': body, ...files }));
    expect(errors('services:\n  api:\n    build: ./missing\n')).toEqual([
      'stacks/shop/compose.yaml:3:12 services.api.build: build context "./missing" is not a directory of the repository (looked for stacks/shop/missing) (commit the directory, or fix the path (it is relative to the stack file))',
    ]);
    expect(errors('services:\n  api:\n    build: { context: ./app }\n', { 'stacks/shop/app/x': '' })).toEqual([
      'stacks/shop/compose.yaml:3:23 services.api.build.context: Dockerfile not found at the commit (looked for stacks/shop/app/Dockerfile) (add a Dockerfile to the context, or name it with `dockerfile:`)',
    ]);
    expect(errors('services:\n  api:\n    build: { context: ./app, dockerfile: Dockerfil }\n', app)).toEqual([
      'stacks/shop/compose.yaml:3:42 services.api.build.dockerfile: Dockerfile not found at the commit (looked for stacks/shop/app/Dockerfil) (fix the path: it is relative to the build context)',
    ]);
    expect(errors('services:\n  api:\n    build: ../../../elsewhere\n')).toEqual([
      'stacks/shop/compose.yaml:3:12 services.api.build: build context "../../../elsewhere" points outside the repository (keep build contexts inside the repository)',
    ]);
    expect(errors('services:\n  api:\n    build: https://github.com/example/api.git#main\n')[0]).toContain('remote build context "https://github.com/example/api.git#main" is not supported');
    expect(errors('services:\n  api:\n    build: /srv/api\n')[0]).toContain('build context "/srv/api" is an absolute path');
    expect(errors('services:\n  api:\n    build: { context: ./app, dockerfile: Dockerfile, dockerfile_inline: "FROM x" }\n', app)).toEqual([
      'stacks/shop/compose.yaml:3:30 services.api.build.dockerfile: `dockerfile` and `dockerfile_inline` cannot be used together (remove one of them)',
    ]);
    expect(errors('services:\n  api:\n    build: { context: ./app, ssh: [default] }\n', app)).toEqual([
      'stacks/shop/compose.yaml:3:30 services.api.build.ssh: `ssh` is not supported yet (it is planned; remove it for now)',
    ]);
  });

  it('finds contexts outside the stacks directory in the repository tree', () => {
    const files = { 'stacks/shop.yaml': 'services:\n  api:\n    build: ../services/api\n' };
    const tree = treeFromFiles(new Map(Object.entries({ ...files, 'services/api/Dockerfile': DOCKERFILE })));
    const r = loadWith(files, { tree });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks[0]?.services['api']?.build?.context).toBe('services/api');
  });
});
