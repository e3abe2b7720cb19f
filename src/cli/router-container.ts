// `--router container`: the daemon's side of a router that runs as a
// container from Capstan's image. At start it makes sure one runs with the
// current image and settings (reusing a running one, so traffic flows through
// operator restarts and kill -9; replacing it when the image changed), then
// checks again every few seconds: Docker's restart policy brings back a
// router that crashed, this brings back one that was stopped or removed.
// A missing image stops `capstan run` with the command that builds it.

import fs from 'node:fs';
import { connectDocker } from '../backends/docker/connect.js';
import { ensureRouterContainer, type EnsureResult, type RouterContainerSpec } from '../backends/docker/router-container.js';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import type { RouterClient } from '../router/client.js';
import { routerPaths } from '../router/store.js';
import { READY_WAIT_MS, routerArgs, WATCH_MS, waitHealthy, type RouterSupervisor } from './router-supervisor.js';

export async function superviseRouterContainer(opts: { settings: Settings; client: RouterClient; logger: Logger }): Promise<RouterSupervisor> {
  const { settings, client } = opts;
  const log = opts.logger.child({ component: 'router-supervisor' });
  const { docker, endpoint } = await connectDocker();
  const hostDir = routerPaths(settings.dataDir).dir;
  fs.mkdirSync(hostDir, { recursive: true, mode: 0o700 });
  const spec: RouterContainerSpec = {
    instance: settings.instance,
    image: settings.routerImage,
    hostDir,
    httpPort: settings.httpPort,
    admin: settings.routerAdmin,
    args: routerArgs(settings),
    token: settings.routerToken,
    user: typeof process.getuid === 'function' && typeof process.getgid === 'function' ? `${process.getuid()}:${process.getgid()}` : undefined,
  };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const ensure = async (first: boolean): Promise<void> => {
    const r: EnsureResult = await ensureRouterContainer(docker, endpoint, spec);
    const where = { container: r.name, image: spec.image, admin: client.display };
    if (r.action === 'reused') {
      if (first) log.info(where, 'reusing the router container already serving');
      return;
    }
    log[first ? 'info' : 'warn'](where, `router container ${r.action}: ${r.cause}`);
    if (!(await waitHealthy(client, READY_WAIT_MS, () => stopped))) {
      log.warn(where, `the router container does not answer on its admin API yet; see \`docker logs ${r.name}\``);
    }
  };
  const schedule = (): void => {
    timer = setTimeout(() => {
      ensure(false)
        .catch((err: unknown) => log.error({ err }, 'cannot keep the router container running'))
        .finally(() => { if (!stopped) schedule(); });
    }, WATCH_MS);
    timer.unref();
  };

  await ensure(true);
  schedule();
  return {
    client,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
