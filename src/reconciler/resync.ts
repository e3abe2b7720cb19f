// The periodic full resync (DESIGN §6): one `--resync` setting, a duration or
// a cron expression. Each tick is one more trigger for the loop, which
// coalesces it with whatever else is pending.

import type { Resync } from '../config/settings.js';
import { ConfigError } from '../errors.js';

export interface Stoppable {
  stop(): void;
}

export async function startResync(resync: Resync, trigger: (reason: string) => void): Promise<Stoppable> {
  if (resync.kind === 'interval') {
    const timer = setInterval(() => trigger('resync'), resync.ms);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
  // node-cron is only needed for a cron schedule.
  const cron = await import('node-cron');
  if (!cron.validate(resync.expression)) {
    throw new ConfigError(`--resync (CAPSTAN_RESYNC): "${resync.expression}" is not a valid cron expression`, 'use e.g. "*/10 * * * *" or a duration such as 5m');
  }
  const task = cron.schedule(resync.expression, () => trigger('resync (cron)'), { name: 'capstan-resync' });
  return { stop: () => void task.stop() };
}
