// Relative bind sources: tracked (file, or a directory with tracked files
// other than .gitkeep/.gitignore) vs data directory, and refusals for paths
// that leave the repository or cross one of its symbolic links.
import { describe, expect, it } from 'vitest';
import { classifyBindSource } from '../../src/manifests/binds.js';
import { loadStacks } from '../../src/manifests/load.js';
import { treeFromFiles, type RepoTree } from '../../src/manifests/repo-tree.js';
import { errorsOf } from './helpers.js';

const files = new Map([
  ['stacks/web.yaml', 'x'],
  ['stacks/conf/nginx.conf', 'events {}\n'],
  ['stacks/data/.gitkeep', ''],
  ['stacks/data/.gitignore', '*\n'],
  ['stacks/site/index.html', '<h1>\n'],
]);
const tree: RepoTree = new Map([...treeFromFiles(files), ['stacks/link', { type: 'link', id: 'l'.repeat(40) }]]);

describe('classifyBindSource', () => {
  it('tracks files and directories holding real files, by their Git id', () => {
    expect(classifyBindSource(tree, 'stacks/conf/nginx.conf')).toEqual({ kind: 'tracked', id: tree.get('stacks/conf/nginx.conf')?.id });
    expect(classifyBindSource(tree, 'stacks/site')).toEqual({ kind: 'tracked', id: tree.get('stacks/site')?.id });
    expect(classifyBindSource(tree, '.')).toEqual({ kind: 'tracked', id: tree.get('.')?.id });
  });
  it('calls placeholders-only and untracked paths data directories', () => {
    expect(classifyBindSource(tree, 'stacks/data')).toEqual({ kind: 'data' });
    expect(classifyBindSource(tree, 'stacks/uploads')).toEqual({ kind: 'data' });
  });
  it('finds a symbolic link anywhere on the way', () => {
    expect(classifyBindSource(tree, 'stacks/link')).toEqual({ kind: 'symlink', at: 'stacks/link' });
    expect(classifyBindSource(tree, 'stacks/link/inner')).toEqual({ kind: 'symlink', at: 'stacks/link' });
  });
});

describe('relative bind refusals', () => {
  it('refuses sources through a symbolic link of the repository, and outside it', () => {
    const body = 'services:\n  api:\n    image: x\n    volumes: ["./link/etc:/e", "../../x:/x"]\n';
    const withBody = new Map([...files, ['stacks/web.yaml', body]]);
    expect(errorsOf(loadStacks(withBody, { root: 'stacks', env: {}, tree: new Map([...treeFromFiles(withBody), ['stacks/link', { type: 'link', id: 'l'.repeat(40) }]]) }))).toEqual([
      'stacks/web.yaml:4:15 services.api.volumes[0]: bind source "./link/etc" crosses the symbolic link stacks/link of the repository (a link may point anywhere on the host; bind the directory it points to by its own path inside the repository)',
      'stacks/web.yaml:4:32 services.api.volumes[1]: bind source "../../x" points outside the repository (keep relative bind sources inside the repository, or use an absolute host path (allowed by policy))',
    ]);
  });
});
