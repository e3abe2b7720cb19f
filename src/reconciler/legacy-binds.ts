// Data that replicas wrote into relative bind sources before data directories
// had a home of their own. Those binds pointed into the checkout of the
// revision each replica was made from (<data-dir>/checkouts/<sha>/<path>); a
// recreate at another revision then showed the application an empty
// directory. Before a pass replaces such a replica, its directory is moved to
// <data-dir>/binds/<stack>/<path>, where the new replica finds it. A rename
// keeps the inode, so the old replica goes on writing into the moved
// directory until it is replaced. Idempotent: nothing moves twice, and data
// already at the new place is never overwritten.

import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { decodeSpecLabel } from '../desired/spec-label.js';
import type { DesiredState } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import type { ObservedState } from '../observed/model.js';

export interface DataDirs {
  /** <data-dir>/checkouts: per-revision checkouts. */
  checkoutsDir: string;
  /** <data-dir>/binds: persistent data directories, per stack. */
  bindsDir: string;
}

/** One move to make: a legacy bind's directory in a checkout → its data directory. */
export interface LegacyMove {
  stack: string;
  service: string;
  container: string;
  /** Repository-relative source. */
  path: string;
  from: string;
  to: string;
}

/** Pure: the moves the snapshot calls for, for sources that Git's desired state now names data directories of the same service. */
export function legacyMoves(observed: ObservedState, desired: DesiredState, dirs: DataDirs): LegacyMove[] {
  const dataPaths = new Map<string, Set<string>>();
  for (const stack of desired.stacks) {
    for (const s of stack.services) {
      const paths = s.spec.volumes.filter((m) => m.type === 'bind' && m.persistent === true).map((m) => m.source);
      if (paths.length > 0) dataPaths.set(`${s.stack}/${s.name}`, new Set(paths));
    }
  }
  const moves: LegacyMove[] = [];
  const seen = new Set<string>();
  for (const c of observed.containers) {
    const wanted = dataPaths.get(`${c.stack}/${c.service}`);
    if (wanted === undefined || !/^[0-9a-f]{40}$/.test(c.revision)) continue;
    for (const m of decodeSpecLabel(c.labels)?.volumes ?? []) {
      const legacy = m.type === 'bind' && m.relative && m.content === undefined && m.persistent === undefined;
      if (!legacy || !wanted.has(m.source)) continue;
      const to = join(dirs.bindsDir, c.stack, m.source);
      const from = join(dirs.checkoutsDir, c.revision, m.source);
      if (seen.has(`${to}\0${from}`)) continue;
      seen.add(`${to}\0${from}`);
      moves.push({ stack: c.stack, service: c.service, container: c.name, path: m.source, from, to });
    }
  }
  return moves;
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/** Makes the moves; a target that exists already is left alone (the first move won), and the source is kept where it is, with a warning. */
export async function migrateLegacyBinds(observed: ObservedState, desired: DesiredState, dirs: DataDirs, logger: Logger): Promise<void> {
  for (const move of legacyMoves(observed, desired, dirs)) {
    if (!(await exists(move.from))) continue;
    const log = logger.child({ stack: move.stack, service: move.service, container: move.container });
    if (await exists(move.to)) {
      log.warn({ from: move.from, to: move.to }, `data of ${move.path} also lies in ${move.from}; kept there, the service uses ${move.to}`);
      continue;
    }
    await mkdir(dirname(move.to), { recursive: true });
    await rename(move.from, move.to);
    log.info({ from: move.from, to: move.to }, `moved the data directory ${move.path} out of the checkout of ${move.container}'s revision, to ${move.to}, where it persists across revisions`);
  }
}
