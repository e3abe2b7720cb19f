// File-watch trigger for a local-path repository: a commit (or a fetch, reset
// or `git gc` that packs refs) rewrites the branch's ref file or packed-refs,
// and that asks for a pass at once instead of at the next poll. Only ref files
// are watched, never the work tree or objects, so a busy repository costs
// nothing. chokidar is loaded only here, by the daemon.

import { relative, sep } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { findGitdir } from './local.js';

export interface RefWatcher {
  close(): Promise<void>;
}

/** Watches `repoPath` for changes of `branch`; undefined when it is no Git repository (the source reports that). */
export async function watchLocalRef(repoPath: string, branch: string, onChange: (reason: string) => void, logger: Logger): Promise<RefWatcher | undefined> {
  const gitdir = await findGitdir(repoPath);
  if (gitdir === undefined) return undefined;
  const { watch } = await import('chokidar');
  const relevant = new Set([`refs/heads/${branch}`, 'packed-refs']);
  // The git dir itself is watched, filtered: ref files are replaced by rename and may not exist yet.
  const watcher = watch(gitdir, { ignoreInitial: true, depth: 2 + branch.split('/').length, ignored: (p) => isIgnored(gitdir, p) });
  watcher.on('all', (event, path) => {
    const rel = relative(gitdir, path).split(sep).join('/');
    if (relevant.has(rel)) onChange(`${rel} ${event}`);
  });
  watcher.on('error', (err) => logger.warn({ err }, `watching ${gitdir} failed; polling still runs`));
  await new Promise<void>((resolve) => watcher.once('ready', resolve));
  logger.debug({ gitdir, branch }, 'watching the branch ref');
  return { close: () => watcher.close() };
}

/** Skip everything under the git dir except refs/heads and packed-refs (objects/ can hold thousands of files). */
function isIgnored(gitdir: string, path: string): boolean {
  const rel = relative(gitdir, path).split(sep).join('/');
  if (rel === '' || rel === 'packed-refs' || rel === 'refs' || rel === 'refs/heads' || rel.startsWith('refs/heads/')) return false;
  return true;
}
