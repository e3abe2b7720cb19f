// Relative paths of a manifest resolved against the repository: every path
// a file names (bind sources, env files, build contexts, secrets, includes)
// must stay inside it.

import { posix } from 'node:path';

/** `dir` + a relative path as a normalized repo-relative path, or undefined when it leaves the repository. */
export function resolveInRepo(dir: string, rel: string): string | undefined {
  const joined = posix.normalize(posix.join(dir === '' ? '.' : dir, rel));
  if (joined === '..' || joined.startsWith('../') || posix.isAbsolute(joined)) return undefined;
  return joined.replace(/\/+$/, '') || '.';
}
