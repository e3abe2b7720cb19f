// Starts a whole router: restores the persisted table, then opens the admin
// socket. Used by `capstan router` and by tests that need a router in-process.

import fs from 'node:fs/promises';
import type http from 'node:http';
import { RouterListenError } from '../errors.js';
import { createAdminServer, listenAdmin } from './admin.js';
import { Router, type RouterOptions } from './router.js';
import { loadTable, routerPaths, type RouterPaths } from './store.js';

export interface RunningRouter {
  router: Router;
  paths: RouterPaths;
  /** Problems of a persisted table that could not be restored; the router then starts empty. */
  restoreProblems: string[];
  stop(graceMs: number): Promise<void>;
}

export async function startRouter(dataDir: string, opts: RouterOptions, socketPath?: string): Promise<RunningRouter> {
  const paths = routerPaths(dataDir);
  if (socketPath !== undefined) paths.socket = socketPath;
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const router = new Router(opts);
  const loaded = await loadTable(paths.table);
  let restoreProblems: string[] = [];
  if (loaded.kind === 'invalid') restoreProblems = loaded.problems;
  if (loaded.kind === 'table') {
    try {
      await router.apply(loaded.table);
    } catch (err) {
      restoreProblems = [err instanceof Error ? err.message : String(err)];
    }
  }
  // The HTTP entry answers 404 even before any table names a route.
  if (router.addresses().http === undefined) await router.apply({ version: router.table.version, l4: [], l7: [], httpPort: undefined });
  const admin: http.Server = createAdminServer({ router, socketPath: paths.socket, tableFile: paths.table });
  try {
    await listenAdmin(admin, paths.socket);
  } catch (err) {
    await router.close(0);
    throw new RouterListenError(paths.socket, err);
  }
  return {
    router,
    paths,
    restoreProblems,
    async stop(graceMs) {
      admin.close();
      admin.closeAllConnections();
      await router.close(graceMs);
      await fs.rm(paths.socket, { force: true });
    },
  };
}
