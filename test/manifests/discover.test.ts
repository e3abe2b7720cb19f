import { describe, expect, it } from 'vitest';
import { discoverStacks, normalizeStackName } from '../../src/manifests/discover.js';
import { errorsOf, load } from './helpers.js';

const minimal = 'services:\n  a:\n    image: x\n';

describe('discoverStacks', () => {
  it('finds top-level yaml files and compose directories, ignoring other files', () => {
    const found = discoverStacks(
      [
        'stacks/web.yaml',
        'stacks/db.yml',
        'stacks/README.md',
        'stacks/.env',
        'stacks/shop/compose.yaml',
        'stacks/shop/docker-compose.yml',
        'stacks/shop/.env',
        'stacks/legacy/docker-compose.yml',
        'stacks/notes/readme.yaml',
        'stacks/deep/nested/compose.yaml',
        'other/x.yaml',
      ],
      'stacks',
    );
    expect(found).toEqual([
      { file: 'stacks/db.yml', defaultName: 'db', dir: 'stacks', envFile: 'stacks/.env' },
      { file: 'stacks/legacy/docker-compose.yml', defaultName: 'legacy', dir: 'stacks/legacy', envFile: undefined },
      { file: 'stacks/shop/compose.yaml', defaultName: 'shop', dir: 'stacks/shop', envFile: 'stacks/shop/.env' },
      { file: 'stacks/web.yaml', defaultName: 'web', dir: 'stacks', envFile: 'stacks/.env' },
    ]);
  });

  it('prefers compose.yaml over compose.yml over docker-compose.*', () => {
    expect(discoverStacks(['s/a/compose.yml', 's/a/docker-compose.yaml'], 's').map((c) => c.file)).toEqual(['s/a/compose.yml']);
  });

  it('treats "" and "." as the repository root and skips capstan.yaml there', () => {
    const paths = ['web.yaml', 'capstan.yaml', 'api/compose.yaml'];
    expect(discoverStacks(paths, '').map((c) => c.file)).toEqual(['api/compose.yaml', 'web.yaml']);
    expect(discoverStacks(paths, '.').map((c) => c.file)).toEqual(['api/compose.yaml', 'web.yaml']);
    expect(discoverStacks(['x/web.yaml'], './x/').map((c) => c.defaultName)).toEqual(['web']);
  });

  it('normalizes names as Compose does', () => {
    expect(normalizeStackName('My.Web Site!')).toBe('mywebsite');
    expect(normalizeStackName('_-shop_2')).toBe('shop_2');
    expect(normalizeStackName('ÄÖ')).toBe('');
  });
});

describe('stack names in loadStacks', () => {
  it('names file stacks after the file and directory stacks after the directory', () => {
    const r = load({ 'stacks/Web.Site.yaml': minimal, 'stacks/shop/compose.yaml': minimal });
    expect(errorsOf(r)).toEqual([]);
    expect(r.stacks.map((s) => [s.name, s.file])).toEqual([
      ['shop', 'stacks/shop/compose.yaml'],
      ['website', 'stacks/Web.Site.yaml'],
    ]);
  });

  it('lets a top-level name: override the file name (normalized)', () => {
    const r = load({ 'stacks/a.yaml': `name: Front_End\n${minimal}` });
    expect(r.stacks.map((s) => s.name)).toEqual(['front_end']);
  });

  it('reports two stacks with the same name in both files', () => {
    const r = load({ 'stacks/web.yaml': minimal, 'stacks/other.yaml': `name: web\n${minimal}` });
    expect(errorsOf(r)).toEqual([
      'stacks/other.yaml:1:7 stack name "web" is also used by stacks/web.yaml (rename one of the files or directories, or give one a different `name:`)',
      'stacks/web.yaml:1:1 stack name "web" is also used by stacks/other.yaml (rename one of the files or directories, or give one a different `name:`)',
    ]);
    expect(r.stacks).toEqual([]);
  });

  it('rejects a name that is empty once normalized', () => {
    const r = load({ 'stacks/a.yaml': `name: "!!!"\n${minimal}` });
    expect(errorsOf(r)).toEqual(['stacks/a.yaml:1:7 name: stack name "!!!" is empty once normalized (use lowercase letters, digits, "-" or "_" in the file name or in `name:`)']);
  });

  it('reports an empty file', () => {
    expect(errorsOf(load({ 'stacks/a.yaml': '# nothing\n' }))).toEqual([
      'stacks/a.yaml:1:1 the file is empty (add a `services:` section, or delete the file to remove the stack)',
    ]);
  });
});
