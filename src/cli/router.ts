// `capstan router`: the data plane as its own process. Restores the last
// table from <data-dir>/router/table.json, serves until SIGTERM/SIGINT, then
// stops accepting, lets in-flight work finish briefly and exits 0.

import type { Logger } from '../logging/logger.js';
import { formatAdminAddress, type AdminAddress } from '../router/address.js';
import type { AcmeSettings } from '../router/acme.js';
import type { EdgeLimits } from '../router/limits.js';
import { startRouter } from '../router/service.js';

export interface RouterCommandOptions {
  dataDir: string;
  httpPort: number;
  httpHost: string;
  /** Default: the unix socket <data-dir>/router/admin.sock. */
  admin: AdminAddress | undefined;
  /** CAPSTAN_ROUTER_TOKEN for a TCP admin API; generated when absent. */
  token: string | undefined;
  accessLog: boolean;
  graceMs: number;
  limits: EdgeLimits;
  httpsPort: number;
  acme: AcmeSettings | undefined;
}

export async function routerCommand(opts: RouterCommandOptions, logger: Logger): Promise<number> {
  const started = await startRouter(
    opts.dataDir,
    {
      httpHost: opts.httpHost, httpPort: opts.httpPort, limits: opts.limits, httpsPort: opts.httpsPort, ...(opts.acme === undefined ? {} : { acme: opts.acme }),
      log: { info: (fields, message) => logger.info(fields, message), warn: (fields, message) => logger.warn(fields, message) },
      ...(opts.accessLog ? { accessLog: (line: string) => logger.info({ access: line }, 'request') } : {}),
    },
    { ...(opts.admin === undefined ? {} : { address: opts.admin }), ...(opts.token === undefined ? {} : { token: opts.token }) },
  );
  if (started.restoreProblems.length > 0) logger.warn({ problems: started.restoreProblems, file: started.paths.table }, 'persisted routing table not restored; starting empty');
  const addr = started.router.addresses();
  const tokenFile = started.admin.kind === 'tcp' && opts.token === undefined ? started.paths.token : undefined;
  logger.info({ admin: formatAdminAddress(started.admin), ...(tokenFile === undefined ? {} : { tokenFile }), httpPort: addr.http, l4: addr.l4, version: started.router.table.version, limits: opts.limits }, 'router serving');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  logger.info({ graceMs: opts.graceMs }, 'router stopping: no new connections, finishing in-flight');
  await started.stop(opts.graceMs);
  return 0;
}
