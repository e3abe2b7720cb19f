// What the router supervisors of `capstan run` share (router-process.ts,
// router-container.ts; router-mode.ts picks one by --router): the handle the
// daemon gets, and how long they wait for a router to answer.

import type { Settings } from '../config/settings.js';
import type { RouterClient } from '../router/client.js';
import { limitArgs } from '../router/limits.js';

/** How often a supervisor checks that its router still answers. */
export const WATCH_MS = 2_000;
/** How long a started router may take to answer before the daemon goes on without it. */
export const READY_WAIT_MS = 10_000;

export interface RouterSupervisor {
  client: RouterClient;
  /** Stops watching; the router keeps running. */
  stop(): void;
}

/** Polls the admin API until it answers, `ms` pass, or `giveUp()` says so; true when it answered. */
export async function waitHealthy(client: RouterClient, ms: number, giveUp: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await client.healthy()) return true;
    if (Date.now() >= deadline || giveUp()) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The `capstan router` flags for the settings that differ from the router's defaults: edge limits, HTTPS port, ACME. */
export function routerArgs(settings: Settings): string[] {
  const acme = settings.acme;
  return [
    ...limitArgs(settings.routerLimits),
    ...(settings.httpsPort === 8443 ? [] : ['--https-port', String(settings.httpsPort)]),
    ...(acme === undefined ? [] : ['--acme-directory', acme.directory]),
    ...(acme?.email === undefined ? [] : ['--acme-email', acme.email]),
    ...(acme?.caFile === undefined ? [] : ['--acme-ca', acme.caFile]),
  ];
}
