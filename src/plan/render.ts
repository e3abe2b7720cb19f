// Plans as text (terminal, logs) and JSON (tools, tests). Deterministic: the
// same plan renders to the same bytes, so renders are golden-tested.

import type { ManifestsInvalidError } from '../errors.js';
import { describeBlueGreen } from '../strategies/blue-green.js';
import { describeCanary } from '../strategies/canary.js';
import { describeHeld } from '../strategies/rolling.js';
import type { Operation, Plan } from './operations.js';

export const VERBS: Record<Operation['kind'], string> = {
  'pull-image': 'pull image',
  'create-network': 'create network',
  'create-volume': 'create volume',
  'create-container': 'create',
  'start-container': 'start',
  'recreate-container': 'recreate',
  'promote-container': 'promote',
  'remove-container': 'remove',
  'remove-network': 'remove network',
  'create-service': 'create service',
  'update-service': 'update service',
  'scale-service': 'scale service',
  'remove-service': 'remove service',
  'create-secret': 'create secret',
  'create-config': 'create config',
  'remove-secret': 'remove secret',
  'remove-config': 'remove config',
};

export function operationTarget(op: Operation): string {
  switch (op.kind) {
    case 'create-network': return op.network.engineName;
    case 'create-volume': return op.volume.engineName;
    case 'pull-image': return op.image;
    default: return op.name;
  }
}

/** One line per operation: `recreate web-api-2: image example/api:1.4.1 → 1.4.2`. */
export function describeOperation(op: Operation): string {
  return `${VERBS[op.kind]} ${operationTarget(op)}: ${op.cause}`;
}

/**
 * How each changed service will be released when it is not a plain rolling
 * update: `canary web/api: 10% → 50% → 100%, analysis error rate ≤ 1 % …`,
 * `blue-green web/api: …`. A rollback or a drifted replica always rolls.
 */
export function releaseLines(plan: Plan): string[] {
  const seen = new Map<string, string>();
  for (const op of plan.operations) {
    if (op.kind !== 'recreate-container' || op.reason !== 'spec-changed') continue;
    const { stack, name, spec } = op.service;
    const key = `${stack}/${name}`;
    if (seen.has(key)) continue;
    const replicas = plan.operations.filter((o) => o.kind === 'recreate-container' && o.service.name === name && o.stack === stack).length;
    if (spec.capstan.strategy === 'canary' && spec.capstan.canary !== undefined) seen.set(key, describeCanary(stack, name, spec.capstan.canary.steps, spec.capstan.canary.analysis));
    else if (spec.capstan.strategy === 'blue-green' && spec.capstan.blueGreen !== undefined) seen.set(key, describeBlueGreen(stack, name, replicas, spec.capstan.blueGreen));
  }
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, line]) => line);
}

export function renderText(plan: Plan): string {
  const sha = plan.revision.slice(0, 7);
  const held = plan.heldRollouts.map((h) => `Held: ${describeHeld(h)}.\n`).join('');
  if (plan.operations.length === 0) return `No changes: instance ${plan.instance} matches ${sha}.\n${held}`;
  const lines = [`Plan for ${sha} on instance ${plan.instance}:`];
  let stack: string | undefined;
  for (const op of [...plan.operations].sort((a, b) => a.stack.localeCompare(b.stack))) {
    if (op.stack !== stack) {
      stack = op.stack;
      lines.push(`  ${stack}`);
    }
    lines.push(`    ${describeOperation(op)}`);
  }
  for (const release of releaseLines(plan)) lines.push(`  Release: ${release}`);
  lines.push(summary(plan));
  return `${lines.join('\n')}\n${held}`;
}

/** `Summary: 3 to create, 1 to recreate, 2 to remove.` */
export function summary(plan: Plan): string {
  return `Summary: ${changeCounts(plan)}.`;
}

/** `3 to create, 1 to recreate, 2 to remove` (no changes: `no changes`). */
export function changeCounts(plan: Plan): string {
  const count = (kinds: Operation['kind'][]): number => plan.operations.filter((o) => kinds.includes(o.kind)).length;
  const parts = [
    [count(['pull-image']), `image${count(['pull-image']) === 1 ? '' : 's'} to pull`],
    [count(['create-container', 'create-service']), 'to create'],
    [count(['recreate-container']), 'to recreate'],
    [count(['update-service']), 'to update'],
    [count(['scale-service']), 'to scale'],
    [count(['promote-container']), 'to promote'],
    [count(['start-container']), 'to start'],
    [count(['remove-container', 'remove-service']), 'to remove'],
    [count(['create-network', 'create-volume', 'remove-network']), 'network/volume changes'],
    [count(['create-secret', 'create-config', 'remove-secret', 'remove-config']), 'secret/config changes'],
  ] as const;
  const text = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`).join(', ');
  return text === '' ? 'no changes' : text;
}

/**
 * Stable JSON (documented in the README): operations as flat records (no
 * embedded specs), services summaries as they are, `errors` empty. Fields are
 * only ever added, never renamed or removed.
 */
export function renderJson(plan: Plan): string {
  const operations = plan.operations.map(operationRecord);
  const held = plan.heldRollouts.map((h) => ({ stack: h.stack, service: h.service, revision: h.revision, end: h.end, reason: h.reason }));
  const out = { revision: plan.revision, instance: plan.instance, valid: true, changes: operations.length, operations, services: plan.services, errors: [], held, releases: releaseLines(plan) };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** One operation as the JSON plan (and the dashboard) shows it: flat, no embedded specs. */
export function operationRecord(op: Operation): { action: Operation['kind']; stack: string; service: string | null; target: string; cause: string; phase: number } {
  return { action: op.kind, stack: op.stack, service: serviceOf(op), target: operationTarget(op), cause: op.cause, phase: op.phase };
}

/** The same shape for a ref whose manifests are invalid: nothing planned, every problem with its position. */
export function renderJsonInvalid(err: ManifestsInvalidError, instance: string): string {
  const errors = err.errors.map((e) => ({ file: e.file, line: e.line, col: e.col, path: e.path, code: e.code, message: e.message, hint: e.hint ?? null }));
  const out = { revision: revisionOf(err), instance, valid: false, changes: 0, operations: [], services: [], errors, held: [] };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** The commit an invalid-manifests error is about (null when it came from a directory). */
export function revisionOf(err: ManifestsInvalidError): string | null {
  const rev = err.data['revision'];
  return typeof rev === 'string' ? rev : null;
}

/** The service an operation is about; null for networks and volumes. */
export function serviceOf(op: Operation): string | null {
  switch (op.kind) {
    case 'create-container':
    case 'recreate-container':
    case 'create-service':
    case 'update-service':
    case 'scale-service':
      return op.service.name;
    case 'start-container':
    case 'promote-container':
    case 'remove-container':
    case 'remove-service':
      return op.service;
    default:
      return null;
  }
}
