// `--router process`: the daemon's side of the router's life. Reuses a router
// that already answers on the admin socket (it outlives operator restarts),
// otherwise starts `capstan router` as a detached child with the same node
// binary and script, and starts it again with a growing delay when it dies.
// Stopping the daemon leaves the router serving.

import { doublingDelayMs } from '../backoff.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import { formatAdminAddress, type TcpAdminAddress } from '../router/address.js';
import type { RouterClient } from '../router/client.js';
import { routerPaths } from '../router/store.js';
import { READY_WAIT_MS, WATCH_MS, waitHealthy, type RouterSupervisor } from './router-supervisor.js';

const RESTART_BASE_MS = 500;
const RESTART_CAP_MS = 30_000;
// A router that served this long before dying is not crash-looping: restart at once.
const STABLE_RUN_MS = 60_000;

/** `args`: more `capstan router` flags (the edge limits); a router already serving keeps those it was started with. */
export async function superviseRouter(opts: { dataDir: string; httpPort: number; admin: TcpAdminAddress | undefined; args: readonly string[]; client: RouterClient; logger: Logger }): Promise<RouterSupervisor> {
  const paths = routerPaths(opts.dataDir);
  const { client } = opts;
  const log = opts.logger.child({ component: 'router-supervisor' });
  let stopped = false;
  let starting = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const launch = async (): Promise<void> => {
    starting = true;
    fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    const out = fs.openSync(path.join(paths.dir, 'router.log'), 'a');
    const script = process.argv[1] ?? '';
    // Detached, in its own process group and without our pipes: a signal to the operator's group or the end of its stdout must not reach the router.
    const admin = opts.admin === undefined ? [] : ['--admin', formatAdminAddress(opts.admin)];
    const child = spawn(process.execPath, [script, 'router', '--data-dir', opts.dataDir, '--http-port', String(opts.httpPort), ...admin, ...opts.args], { detached: true, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const startedAt = Date.now();
    if (child.pid !== undefined) fs.writeFileSync(path.join(paths.dir, 'router.pid'), `${child.pid}\n`);
    child.unref();
    child.once('exit', (code, signal) => {
      if (stopped) return;
      failures = Date.now() - startedAt >= STABLE_RUN_MS ? 0 : failures + 1;
      const delay = doublingDelayMs(failures, RESTART_BASE_MS, RESTART_CAP_MS);
      log.warn({ code, signal, restartInMs: delay, log: path.join(paths.dir, 'router.log') }, `router exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms`);
      schedule(delay);
    });
    log.info({ pid: child.pid, httpPort: opts.httpPort, admin: client.display }, 'router started');
    await waitHealthy(client, READY_WAIT_MS, () => stopped || child.exitCode !== null);
    starting = false;
  };
  const check = async (): Promise<void> => {
    // A reused router is not our child: its death shows only here.
    if (stopped || starting) return;
    if (await client.healthy()) return;
    log.warn({ admin: client.display }, 'the router does not answer on its admin API; starting one');
    await launch();
  };
  const schedule = (delayMs: number): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      check().catch((err: unknown) => log.error({ err }, 'cannot start the router')).finally(() => { if (!stopped && timer === undefined) schedule(WATCH_MS); });
    }, delayMs);
    timer.unref();
  };

  if (await client.healthy()) log.info({ admin: client.display }, 'reusing the router already serving');
  else await launch();
  schedule(WATCH_MS);
  return {
    client,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
