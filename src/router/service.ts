// Starts a whole router: restores the persisted table, then opens the admin
// API (the unix socket, or a loopback TCP port with a token that is given or
// generated here). Used by `capstan router` and by tests that need a router
// in-process.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type http from 'node:http';
import { RouterListenError } from '../errors.js';
import { formatAdminAddress, type AdminAddress } from './address.js';
import { createAdminServer, listenAdmin } from './admin.js';
import { Router, type RouterOptions } from './router.js';
import { loadTable, routerPaths, saveToken, type RouterPaths } from './store.js';

export interface RunningRouter {
  router: Router;
  paths: RouterPaths;
  admin: AdminAddress;
  /** The bearer token of a TCP admin API; undefined on the unix socket. */
  token: string | undefined;
  /** Problems of a persisted table that could not be restored; the router then starts empty. */
  restoreProblems: string[];
  stop(graceMs: number): Promise<void>;
}

export interface AdminSettings {
  /** Default: the unix socket <data-dir>/router/admin.sock. */
  address?: AdminAddress;
  /** For a TCP address: the token clients must send; without one a fresh token is written to <data-dir>/router/admin.token. */
  token?: string;
}

export async function startRouter(dataDir: string, opts: RouterOptions, adminSettings: AdminSettings = {}): Promise<RunningRouter> {
  const paths = routerPaths(dataDir);
  const address = adminSettings.address ?? { kind: 'unix', path: paths.socket };
  if (address.kind === 'unix') paths.socket = address.path;
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  let token: string | undefined;
  if (address.kind === 'tcp') {
    token = adminSettings.token;
    if (token === undefined) {
      token = randomBytes(32).toString('base64url');
      await saveToken(paths.token, token);
    }
  }
  const router = new Router({ stateDir: paths.dir, ...opts });
  // Certificates first: a restored TLS route serves at once.
  let restoreProblems: string[] = (await router.loadCertificates()).map((p) => `certificate ${p}`);
  const loaded = await loadTable(paths.table);
  if (loaded.kind === 'invalid') restoreProblems = [...restoreProblems, ...loaded.problems];
  if (loaded.kind === 'table') {
    try {
      await router.apply(loaded.table);
    } catch (err) {
      restoreProblems = [...restoreProblems, err instanceof Error ? err.message : String(err)];
    }
  }
  // The HTTP entry answers 404 even before any table names a route.
  if (router.addresses().http === undefined) await router.apply({ version: router.table.version, l4: [], l7: [], httpPort: undefined });
  const admin: http.Server = createAdminServer({ router, tableFile: paths.table, token });
  try {
    await listenAdmin(admin, address);
  } catch (err) {
    await router.close(0);
    throw new RouterListenError(formatAdminAddress(address), err);
  }
  return {
    router,
    paths,
    admin: address,
    token,
    restoreProblems,
    async stop(graceMs) {
      admin.close();
      admin.closeAllConnections();
      await router.close(graceMs);
      if (address.kind === 'unix') await fs.rm(paths.socket, { force: true });
    },
  };
}
