// `--router process`: the daemon's side of the router's life. Reuses a router
// that already answers on the admin socket (it outlives operator restarts),
// otherwise starts `capstan router` as a detached child with the same node
// binary and script, and starts it again with a growing delay when it dies.
// Stopping the daemon leaves the router serving.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import { RouterClient } from '../router/client.js';
import { routerPaths } from '../router/store.js';

const RESTART_BASE_MS = 500;
const RESTART_CAP_MS = 30_000;
// A router that served this long before dying is not crash-looping: restart at once.
const STABLE_RUN_MS = 60_000;
const WATCH_MS = 2_000;
const READY_WAIT_MS = 10_000;

export interface RouterSupervisor {
  client: RouterClient;
  /** Stops watching; the router keeps running. */
  stop(): void;
}

export async function superviseRouter(opts: { dataDir: string; httpPort: number; logger: Logger }): Promise<RouterSupervisor> {
  const paths = routerPaths(opts.dataDir);
  const client = new RouterClient(paths.socket);
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
    const child = spawn(process.execPath, [script, 'router', '--data-dir', opts.dataDir, '--http-port', String(opts.httpPort)], { detached: true, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const startedAt = Date.now();
    if (child.pid !== undefined) fs.writeFileSync(path.join(paths.dir, 'router.pid'), `${child.pid}\n`);
    child.unref();
    child.once('exit', (code, signal) => {
      if (stopped) return;
      failures = Date.now() - startedAt >= STABLE_RUN_MS ? 0 : failures + 1;
      const delay = failures === 0 ? 0 : Math.min(RESTART_CAP_MS, RESTART_BASE_MS * 2 ** (failures - 1));
      log.warn({ code, signal, restartInMs: delay, log: path.join(paths.dir, 'router.log') }, `router exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms`);
      schedule(delay);
    });
    log.info({ pid: child.pid, httpPort: opts.httpPort, admin: paths.socket }, 'router started');
    const deadline = Date.now() + READY_WAIT_MS;
    while (Date.now() < deadline && !stopped && child.exitCode === null && !(await client.healthy())) await sleep(100);
    starting = false;
  };
  const check = async (): Promise<void> => {
    // A reused router is not our child: its death shows only here.
    if (stopped || starting) return;
    if (await client.healthy()) return;
    log.warn({ admin: paths.socket }, 'the router does not answer on its admin socket; starting one');
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

  if (await client.healthy()) log.info({ admin: paths.socket }, 'reusing the router already serving');
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
