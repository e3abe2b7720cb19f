// The service spec travels with each container as a label, so what runs can
// always be compared with (and restored to) what Git said when it was made,
// without any memory of the operator's own.

import type { ServiceSpec } from '../manifests/model.js';
import { LABEL } from './labels.js';

export function encodeSpecLabel(spec: ServiceSpec): string {
  return JSON.stringify(spec);
}

/** The spec a container was created from; undefined when the label is missing or unreadable (then only the hash can tell "changed"). */
export function decodeSpecLabel(labels: Readonly<Record<string, string>>): ServiceSpec | undefined {
  const raw = labels[LABEL.spec];
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null && 'image' in value ? (value as ServiceSpec) : undefined;
  } catch {
    return undefined;
  }
}
