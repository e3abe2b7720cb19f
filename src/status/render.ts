// Status documents as the YAML files of the status branch (DESIGN §8) and
// back. Rendering is deterministic (fixed key order, flow style for the
// small maps), so equal status means equal bytes and no commit.

import { z } from 'zod';
import { Document, isMap, isSeq, parse } from 'yaml';
import type { OperatorStatus, ServiceStatus, StackStatus } from './model.js';

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
    services: Object.fromEntries(Object.entries(status.services).map(([name, s]) => [name, serviceDocument(s)])),
  });
  // One line per condition and per healthy service, as in the design's example; a service with problems spells them out below it.
  const conditions = doc.get('conditions', true);
  if (isSeq(conditions)) for (const item of conditions.items) if (isMap(item)) item.flow = true;
  const services = doc.get('services', true);
  if (isMap(services)) {
    for (const pair of services.items) {
      if (!isMap(pair.value)) continue;
      const replicas = pair.value.get('replicas', true);
      if (isMap(replicas)) replicas.flow = true;
      const unhealthy = pair.value.get('unhealthy', true);
      if (isSeq(unhealthy)) for (const item of unhealthy.items) if (isMap(item)) item.flow = true;
      pair.value.flow = unhealthy === undefined && pair.value.get('crashLoop') === undefined;
    }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}

/** Fixed key order, so equal status renders to equal bytes. */
function serviceDocument(s: ServiceStatus): Record<string, unknown> {
  return {
    image: s.image,
    specHash: s.specHash,
    replicas: { desired: s.replicas.desired, running: s.replicas.running, ready: s.replicas.ready },
    ...(s.unhealthy === undefined ? {} : { unhealthy: s.unhealthy.map((u) => ({ replica: u.replica, probe: u.probe, output: u.output })) }),
    ...(s.crashLoop === undefined ? {} : { crashLoop: { replica: s.crashLoop.replica, exitCode: s.crashLoop.exitCode ?? null, lastLogLines: [...s.crashLoop.lastLogLines] } }),
    ...(s.dataDirs === undefined ? {} : { dataDirs: { ...s.dataDirs } }),
    ...(s.lastRelease === undefined ? {} : {
      lastRelease: { strategy: s.lastRelease.strategy, revision: s.lastRelease.revision, result: s.lastRelease.result, ...(s.lastRelease.detail === undefined ? {} : { detail: s.lastRelease.detail }), at: s.lastRelease.at },
    }),
  };
}

export function renderOperatorStatus(status: OperatorStatus): string {
  return new Document({ instance: status.instance, version: status.version, backend: status.backend, lastError: status.lastError ?? null }).toString({ lineWidth: 0 });
}

const condition = z.object({
  type: z.enum(['Ready', 'Reconciling', 'Stalled', 'Degraded', 'ScalingLimited']),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
});
const service = z.object({
  image: z.string(),
  specHash: z.string(),
  // Files written before `running` was reported lack it: the ready count is the best known.
  replicas: z.object({ desired: z.number(), running: z.number().optional(), ready: z.number() }).transform((r) => ({ desired: r.desired, running: r.running ?? r.ready, ready: r.ready })),
  unhealthy: z.array(z.object({ replica: z.string(), probe: z.string(), output: z.string() })).optional(),
  crashLoop: z
    .object({ replica: z.string(), exitCode: z.number().nullish(), lastLogLines: z.array(z.string()).default([]) })
    .transform((l) => ({ replica: l.replica, exitCode: l.exitCode ?? undefined, lastLogLines: l.lastLogLines }))
    .optional(),
  dataDirs: z.record(z.string(), z.string()).optional(),
  lastRelease: z.object({ strategy: z.enum(['canary', 'blue-green']), revision: z.string(), result: z.enum(['promoted', 'aborted']), detail: z.string().optional(), at: z.string() }).optional(),
});
const stackSchema = z.object({
  stack: z.string(),
  lastAppliedRevision: z.string().nullish(),
  lastAttemptedRevision: z.string().nullish(),
  conditions: z.array(condition).default([]),
  services: z.record(z.string(), service).nullish(),
});

/** A status file read back from the branch; undefined when it is not one (a human may have edited it). */
export function parseStackStatus(text: string): StackStatus | undefined {
  let value: unknown;
  try {
    value = parse(text);
  } catch {
    return undefined;
  }
  return stackStatusFrom(value);
}

/** A status document already parsed (from YAML, or from the JSON of /api/status); undefined when it is not one. */
export function stackStatusFrom(value: unknown): StackStatus | undefined {
  const parsed = stackSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const d = parsed.data;
  const services = Object.fromEntries(Object.entries(d.services ?? {}).map(([name, s]) => [name, {
    image: s.image,
    specHash: s.specHash,
    replicas: s.replicas,
    ...(s.unhealthy === undefined ? {} : { unhealthy: s.unhealthy }),
    ...(s.crashLoop === undefined ? {} : { crashLoop: s.crashLoop }),
    ...(s.dataDirs === undefined ? {} : { dataDirs: s.dataDirs }),
    ...(s.lastRelease === undefined ? {} : { lastRelease: { strategy: s.lastRelease.strategy, revision: s.lastRelease.revision, result: s.lastRelease.result, ...(s.lastRelease.detail === undefined ? {} : { detail: s.lastRelease.detail }), at: s.lastRelease.at } }),
  }]));
  return {
    stack: d.stack,
    lastAppliedRevision: d.lastAppliedRevision ?? undefined,
    lastAttemptedRevision: d.lastAttemptedRevision ?? undefined,
    conditions: d.conditions,
    services,
  };
}
