// Relative bind sources (DESIGN §2). What Git tracks is configuration: it is
// mounted read-only from the deployed revision and named by its Git id, so a
// changed file rolls the service. Anything else is a data directory, kept
// writable outside every checkout so that it survives revisions and
// recreates. A path through a symlink of the repository is refused: it could
// point anywhere on the host.

import type { RepoTree } from './repo-tree.js';

export type BindSourceKind = { kind: 'tracked'; id: string } | { kind: 'data' } | { kind: 'symlink'; at: string };

/** Files that only keep an otherwise empty directory in Git: a directory holding nothing else is a data directory. */
const PLACEHOLDERS: ReadonlySet<string> = new Set(['.gitkeep', '.gitignore']);

/** `path` is repository-relative and normalized ('.' = the root). */
export function classifyBindSource(tree: RepoTree, path: string): BindSourceKind {
  const parts = path === '.' ? [] : path.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (tree.get(prefix)?.type === 'link') return { kind: 'symlink', at: prefix };
  }
  const entry = tree.get(path);
  if (entry === undefined) return { kind: 'data' };
  if (entry.type !== 'tree') return { kind: 'tracked', id: entry.id };
  const below = path === '.' ? '' : `${path}/`;
  for (const [p, e] of tree) {
    if (e.type !== 'tree' && p.startsWith(below) && !PLACEHOLDERS.has(p.slice(p.lastIndexOf('/') + 1))) return { kind: 'tracked', id: entry.id };
  }
  return { kind: 'data' };
}
