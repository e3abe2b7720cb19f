// Status documents as the YAML files of the status branch (DESIGN §8) and
// back. Rendering is deterministic (fixed key order, flow style for the
// small maps), so equal status means equal bytes and no commit.

import { z } from 'zod';
import { Document, isMap, isSeq, parse } from 'yaml';
import type { OperatorStatus, StackStatus } from './model.js';

export const STATUS_DIR = 'status';
export const OPERATOR_FILE = `${STATUS_DIR}/_operator.yaml`;

export function stackFile(stack: string): string {
  return `${STATUS_DIR}/${stack}.yaml`;
}

export function renderStackStatus(status: StackStatus): string {
  const doc = new Document({
    stack: status.stack,
    lastAppliedRevision: status.lastAppliedRevision ?? null,
    lastAttemptedRevision: status.lastAttemptedRevision ?? null,
    conditions: status.conditions.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: c.lastTransitionTime })),
    services: Object.fromEntries(
      Object.entries(status.services).map(([name, s]) => [name, { image: s.image, specHash: s.specHash, replicas: { desired: s.replicas.desired, ready: s.replicas.ready } }]),
    ),
  });
  // One line per condition and per service, as in the design's example.
  const conditions = doc.get('conditions', true);
  if (isSeq(conditions)) for (const item of conditions.items) if (isMap(item)) item.flow = true;
  const services = doc.get('services', true);
  if (isMap(services)) for (const pair of services.items) if (isMap(pair.value)) pair.value.flow = true;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}

export function renderOperatorStatus(status: OperatorStatus): string {
  return new Document({ instance: status.instance, version: status.version, backend: status.backend, lastError: status.lastError ?? null }).toString({ lineWidth: 0 });
}

const condition = z.object({
  type: z.enum(['Ready', 'Reconciling', 'Stalled', 'Degraded']),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});
const stackSchema = z.object({
  stack: z.string(),
  lastAppliedRevision: z.string().nullish(),
  lastAttemptedRevision: z.string().nullish(),
  conditions: z.array(condition).default([]),
  services: z
    .record(z.string(), z.object({ image: z.string(), specHash: z.string(), replicas: z.object({ desired: z.number(), ready: z.number() }) }))
    .nullish(),
});

/** A status file read back from the branch; undefined when it is not one (a human may have edited it). */
export function parseStackStatus(text: string): StackStatus | undefined {
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    return undefined;
  }
  const parsed = stackSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const d = parsed.data;
  return {
    stack: d.stack,
    lastAppliedRevision: d.lastAppliedRevision ?? undefined,
    lastAttemptedRevision: d.lastAttemptedRevision ?? undefined,
    conditions: d.conditions,
    services: d.services ?? {},
  };
}
