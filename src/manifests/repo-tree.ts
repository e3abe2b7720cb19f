// Which paths the repository holds at the commit, with Git's content ids:
// build contexts, Dockerfiles and secret files are found and fingerprinted
// here without reading their contents. The Git source lists the real tree;
// without one (tests, `validate DIR`) it is derived from the files map.

import { createHash } from 'node:crypto';

export interface TreeEntry {
  /** `link`: a symbolic link, listed so that paths crossing one can be refused; never followed. */
  type: 'tree' | 'blob' | 'link';
  /** Git object id (blob or tree); derived trees carry a hash of what lies below them instead. */
  id: string;
}

/** Repository-relative POSIX path → entry; the root is '.'. */
export type RepoTree = ReadonlyMap<string, TreeEntry>;

/** `git hash-object` of a text: a blob id equal to Git's for the same bytes. */
export function blobId(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

export function treeFromFiles(files: ReadonlyMap<string, string>): RepoTree {
  const tree = new Map<string, TreeEntry>();
  const below = new Map<string, string[]>();
  for (const [path, content] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const id = blobId(content);
    tree.set(path, { type: 'blob', id });
    const parts = path.split('/');
    for (let i = 0; i < parts.length; i++) {
      const dir = i === 0 ? '.' : parts.slice(0, i).join('/');
      const list = below.get(dir) ?? [];
      list.push(`${path} ${id}`);
      below.set(dir, list);
    }
  }
  for (const [dir, lines] of below) tree.set(dir, { type: 'tree', id: createHash('sha1').update(lines.join('\n')).digest('hex') });
  return tree;
}
