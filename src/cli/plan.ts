// `capstan plan`: what applying a ref would do to the live engine. Exit codes
// follow `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.
// An invalid ref is still reported in the chosen format (a PR comment or a
// JSON consumer must see why), and exits 1.

import type { Settings } from '../config/settings.js';
import { ManifestsInvalidError, UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Plan } from '../plan/operations.js';
import { renderMarkdown, renderMarkdownInvalid } from '../plan/render-markdown.js';
import { renderJson, renderJsonInvalid, renderText } from '../plan/render.js';
import { planPass } from '../reconciler/pass.js';
import { createPassContext } from './context.js';

export const PLAN_FORMATS = ['text', 'markdown', 'json'] as const;
type PlanFormat = (typeof PLAN_FORMATS)[number];

const RENDER: Record<PlanFormat, (plan: Plan) => string> = { text: renderText, markdown: renderMarkdown, json: renderJson };
const RENDER_INVALID: Partial<Record<PlanFormat, (err: ManifestsInvalidError, instance: string) => string>> = {
  markdown: renderMarkdownInvalid,
  json: renderJsonInvalid,
};

export async function planCommand(settings: Settings, logger: Logger, opts: { ref?: string; format: string }): Promise<number> {
  const format = PLAN_FORMATS.find((f) => f === opts.format);
  if (format === undefined) {
    throw new UsageError(`--format ${opts.format} is not supported`, `use --format ${PLAN_FORMATS.join(', ')}`);
  }
  const ctx = await createPassContext(settings, logger);
  let plan: Plan;
  try {
    ({ plan } = await planPass(ctx, opts.ref));
  } catch (err) {
    const render = RENDER_INVALID[format];
    // Text goes through main.ts like every other error (stderr, one line per problem).
    if (!(err instanceof ManifestsInvalidError) || render === undefined) throw err;
    process.stdout.write(render(err, settings.instance));
    return 1;
  }
  process.stdout.write(RENDER[format](plan));
  return plan.operations.length === 0 ? 0 : 2;
}
