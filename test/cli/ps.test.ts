// `capstan ps` rows: state, health (Docker's, and the daemon's probe and
// crash-loop verdicts), uptime and digest, as a table and as JSON fields.

import { describe, expect, it } from 'vitest';
import type { ReplicaDetails } from '../../src/backends/docker/replica-details.js';
import { psRows, renderPs } from '../../src/cli/ps.js';
import type { LiveHealth } from '../../src/cli/status.js';
import { humanDuration } from '../../src/cli/table.js';
import { desiredService, observedReplica, REV_A } from '../helpers/specs.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const api = desiredService('web', 'api');
const worker = desiredService('web', 'worker');
const replicas = [
  { ...observedReplica(api, 1), health: 'healthy' as const },
  observedReplica(api, 2),
  { ...observedReplica(worker, 1, { state: 'exited' }) },
];
const details = new Map<string, ReplicaDetails>([
  [replicas[0]!.id, { startedAt: NOW - 3_723_000, finishedAt: undefined, exitCode: 0, imageId: 'sha256:' + '1'.repeat(64), repoDigest: 'example/api@sha256:' + 'f'.repeat(64) }],
  [replicas[1]!.id, { startedAt: NOW - 42_000, finishedAt: undefined, exitCode: 0, imageId: 'sha256:' + '1'.repeat(64), repoDigest: undefined }],
  [replicas[2]!.id, { startedAt: NOW - 90_000, finishedAt: NOW - 80_000, exitCode: 3, imageId: undefined, repoDigest: undefined }],
]);
const health: LiveHealth[] = [
  { stack: 'web', service: 'api', status: 'Degraded', reason: 'Unready', unhealthy: [{ replica: replicas[1]!.name, probe: 'http GET :80/healthz', output: 'HTTP 503' }], live: { message: '1/2 replicas ready' } },
  { stack: 'web', service: 'worker', status: 'Degraded', reason: 'CrashLoop', crashLoop: { replica: replicas[2]!.name, lastLogLines: [] }, unhealthy: [], live: { message: 'crash-looping' } },
];

describe('capstan ps', () => {
  it('merges the engine with the daemon: probe failures and crash loops show as health', () => {
    const rows = psRows({ instance: 'i', containers: replicas, networks: [], volumes: [] }, details, health, NOW);
    expect(rows.map((r) => [r.name, r.state, r.exitCode, r.health, r.uptimeSeconds])).toEqual([
      ['web-api-1', 'running', null, 'healthy', 3723],
      ['web-api-2', 'running', null, 'unready', 42],
      ['web-worker-1', 'exited', 3, 'crash-loop', null],
    ]);
    expect(rows[1]?.failing).toEqual({ probe: 'http GET :80/healthz', output: 'HTTP 503' });
    const text = renderPs(rows, 'Docker and the daemon at http://127.0.0.1:9420');
    expect(text.split('\n')).toEqual([
      'NAME          SERVICE     STATE       HEALTH      UPTIME  REVISION  IMAGE              DIGEST',
      `web-api-1     web/api     running     healthy     1h2m    ${REV_A.slice(0, 7)}   example/api:1.4.1  sha256:ffffffffffff`,
      `web-api-2     web/api     running     unready     42s     ${REV_A.slice(0, 7)}   example/api:1.4.1  sha256:111111111111`,
      `web-worker-1  web/worker  exited (3)  crash-loop  -       ${REV_A.slice(0, 7)}   example/api:1.4.1  -`,
      '',
      'web-api-2: http GET :80/healthz: HTTP 503',
      '',
      'Health from Docker and the daemon at http://127.0.0.1:9420.',
      '',
    ]);
  });

  it("without the daemon, Docker's healthcheck is the only health", () => {
    const rows = psRows({ instance: 'i', containers: replicas, networks: [], volumes: [] }, details, undefined, NOW);
    expect(rows.map((r) => r.health)).toEqual(['healthy', null, null]);
  });

  it('durations read like docker ps, shorter', () => {
    expect([500, 45_000, 725_000, 3_600_000, 11_220_000, 90_000_000].map(humanDuration)).toEqual(['<1s', '45s', '12m5s', '1h', '3h7m', '1d1h']);
  });
});
