// `capstan plan`: what applying a ref would do to the live engine. Exit codes
// follow `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.

import type { Settings } from '../config/settings.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { renderJson, renderText } from '../plan/render.js';
import { planPass } from '../reconciler/pass.js';
import { createPassContext } from './context.js';

export async function planCommand(settings: Settings, logger: Logger, opts: { ref?: string; format: string }): Promise<number> {
  if (opts.format !== 'text' && opts.format !== 'json') {
    throw new UsageError(`--format ${opts.format} is not supported`, 'use --format text or --format json');
  }
  const ctx = await createPassContext(settings, logger);
  const { plan } = await planPass(ctx, opts.ref);
  process.stdout.write(opts.format === 'json' ? renderJson(plan) : renderText(plan));
  return plan.operations.length === 0 ? 0 : 2;
}
