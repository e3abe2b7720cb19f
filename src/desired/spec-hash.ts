// The spec hash of DESIGN §3: equal hash = nothing to change. sha256 over a
// canonical JSON (sorted keys, undefined dropped) of the normalized spec
// without `replicas`, `update`, `rollback`, the pull policy and `capstan`:
// scaling, a new rollout or pull policy, probe or route change how Capstan
// acts, not what a container is, so none of them recreates a replica.

import { createHash } from 'node:crypto';
import type { ServiceSpec } from '../manifests/model.js';

/** JSON with object keys sorted at every level, so key order never changes the text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return 'null';
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    if (typeof value === 'bigint') return JSON.stringify(value.toString());
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v: unknown) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Full 64-hex sha256 of what reaches the container: the spec without
 * `replicas`, `update`, `rollback`, `pullPolicy`, `capstan` (probe, route,
 * strategy, canary, autoscale, image_update) and `routeTls`: they say how and
 * when Capstan acts, not what a container is (a route's certificate content
 * follows its own digest).
 */
export function specHash(spec: ServiceSpec): string {
  const { replicas: _replicas, update: _update, rollback: _rollback, pullPolicy: _pull, capstan: _capstan, routeTls: _routeTls, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}
