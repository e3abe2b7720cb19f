// The periodic full resync (DESIGN §6): one `--resync` setting, a duration or
// a cron expression (read by schedule/cron.ts, the parser sync windows use
// too). Each tick is one more trigger, which wakes every lane.

import type { Resync } from '../config/settings.js';
import { ConfigError } from '../errors.js';
import { nextCronTime, parseCron } from '../schedule/cron.js';

export interface Stoppable {
  stop(): void;
}

export async function startResync(resync: Resync, trigger: (reason: string) => void, now: () => number = Date.now): Promise<Stoppable> {
  if (resync.kind === 'interval') {
    const timer = setInterval(() => trigger('resync'), resync.ms);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
  const schedule = parseCron(resync.expression);
  if (typeof schedule === 'string') throw new ConfigError(`--resync (CAPSTAN_RESYNC): ${schedule}`, 'use e.g. "*/10 * * * *" or a duration such as 5m');
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const at = nextCronTime(schedule, now());
    if (at === undefined) return;
    timer = setTimeout(() => {
      trigger('resync (cron)');
      arm();
    }, Math.max(0, at - now()));
    timer.unref();
  };
  arm();
  return { stop: () => clearTimeout(timer) };
}
