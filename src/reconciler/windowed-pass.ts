// A pass that honours sync windows: while a window is closed it still
// resolves, loads and observes (so status and /api/plan stay true and errors
// surface), but applies nothing and says the changes are held.

import { isSyncAllowed, type SyncWindow } from './sync-window.js';
import { planPass, reconcilePass, type PassContext, type PassResult } from './pass.js';

export async function windowedPass(ctx: PassContext, windows: readonly SyncWindow[], nowMs: number, force = false): Promise<PassResult> {
  if (force || isSyncAllowed(windows, nowMs)) return reconcilePass(ctx, { force });
  const { desired, plan, observed } = await planPass(ctx);
  if (plan.operations.length === 0) return { revision: desired.revision, plan, applied: 0, desired, observed };
  ctx.logger.info({ revision: desired.revision, operations: plan.operations.length, reason: 'SyncWindowClosed' }, `sync window closed: ${plan.operations.length} changes wait`);
  return { revision: desired.revision, plan, applied: 0, desired, observed, held: 'SyncWindowClosed' };
}
