// How `capstan run` keeps a router serving, by --router: a host process
// (router-process.ts), a container from Capstan's image (router-container.ts),
// or none. Either way the daemon gets a client for the router's admin API
// (the unix socket, or --router-admin on the loopback with a token) and
// leaves the router running when it stops.

import type { Settings } from '../config/settings.js';
import type { Logger } from '../logging/logger.js';
import { routerClient } from '../router/client.js';
import { superviseRouterContainer } from './router-container.js';
import { superviseRouter } from './router-process.js';
import { routerArgs, type RouterSupervisor } from './router-supervisor.js';

export async function startRouterSupervisor(settings: Settings, logger: Logger): Promise<RouterSupervisor | undefined> {
  if (settings.router === 'none') return undefined;
  const client = routerClient(settings.dataDir, settings.routerAdmin, settings.routerToken);
  if (settings.router === 'container') return superviseRouterContainer({ settings, client, logger });
  return superviseRouter({ dataDir: settings.dataDir, httpPort: settings.httpPort, admin: settings.routerAdmin, args: routerArgs(settings), client, logger });
}
