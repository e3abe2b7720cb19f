// How a readiness check is named where a user reads why a replica is not
// ready (status files, /api/status, logs): short, stable across passes, and
// recognisable against the manifest it came from.

import type { HealthcheckSpec, ProbeCheck } from '../manifests/model.js';

/** `http GET :8080/healthz`, `tcp :5432`, `exec test -f /ready`. */
export function describeProbe(check: ProbeCheck): string {
  switch (check.kind) {
    case 'http':
      return `http GET :${check.port}${check.path}${check.host === undefined ? '' : ` (Host: ${check.host})`}`;
    case 'tcp':
      return `tcp :${check.port}`;
    case 'exec':
      return `exec ${check.command.join(' ')}`;
  }
}

/** Docker's own check: `healthcheck CMD-SHELL wget -qO- localhost`, or the image's when the manifest sets none. */
export function describeHealthcheck(spec: HealthcheckSpec | undefined): string {
  return spec === undefined ? 'healthcheck (from the image)' : `healthcheck ${spec.test.join(' ')}`;
}
