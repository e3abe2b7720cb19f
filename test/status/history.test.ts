// Deploys read back from a stack's status versions: outcome, start, end and
// duration per attempted revision, newest first.

import { describe, expect, it } from 'vitest';
import type { Condition, StackStatus } from '../../src/status/model.js';
import { deploysOf, type StatusVersion } from '../../src/status/history.js';
import { renderHistory } from '../../src/cli/history.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);

function cond(type: Condition['type'], status: Condition['status'], reason: string, message = ''): Condition {
  return { type, status, reason, message, lastTransitionTime: '2026-12-01T10:00:00Z' };
}

function version(seconds: number, attempted: string, applied: string | undefined, conditions: Condition[]): StatusVersion {
  const status: StackStatus = { stack: 'web', lastAttemptedRevision: attempted, lastAppliedRevision: applied, conditions, services: {} };
  return { commit: `${seconds}`.padStart(40, '0'), timeMs: T0 + seconds * 1000, status };
}

const ready = [cond('Ready', 'True', 'Converged', '1/1 services ready')];
const progressing = [cond('Ready', 'False', 'Progressing', '0/1 services ready'), cond('Reconciling', 'True', 'Progressing', 'waiting for replicas: api 0/3')];

describe('deploysOf', () => {
  it('a rollout from its first version to the one that converged, then a rolled-back one, then one in progress', () => {
    const deploys = deploysOf([
      version(0, A, undefined, progressing),
      version(12, A, A, ready),
      version(100, B, A, progressing),
      version(170, B, A, [cond('Ready', 'False', 'ApplyFailed', 'api failed'), cond('Degraded', 'True', 'RolledBack', `${B.slice(0, 7)} was rolled back: probe failed`)]),
      version(300, C, A, progressing),
    ]);
    expect(deploys.map((d) => [d.revision.slice(0, 1), d.outcome, d.durationSeconds, d.finishedAt])).toEqual([
      ['c', 'in-progress', null, null],
      ['b', 'rolled-back', 70, '2026-12-01T10:02:50.000Z'],
      ['a', 'succeeded', 12, '2026-12-01T10:00:12.000Z'],
    ]);
    expect(deploys[1]?.message).toBe('RolledBack: bbbbbbb was rolled back: probe failed');
    expect(deploys[2]?.startedAt).toBe('2026-12-01T10:00:00.000Z');
  });

  it('a deploy made in one pass has one version: succeeded, with no duration to claim', () => {
    const [d] = deploysOf([version(0, A, A, ready)]);
    expect(d).toMatchObject({ outcome: 'succeeded', durationSeconds: null, finishedAt: '2026-12-01T10:00:00.000Z' });
  });

  it('a failed apply that a retry converges counts as succeeded, when it converged', () => {
    const failed = [cond('Ready', 'False', 'ApplyFailed', 'pull denied'), cond('Reconciling', 'True', 'RetryingApply', 'retrying')];
    const [d] = deploysOf([version(0, A, undefined, failed), version(30, A, undefined, failed), version(45, A, A, ready)]);
    expect(d).toMatchObject({ outcome: 'succeeded', durationSeconds: 45 });
  });

  it('an invalid commit, one superseded before it converged, and one that runs but crash-loops', () => {
    const deploys = deploysOf([
      version(0, A, undefined, progressing),
      version(5, B, undefined, [cond('Ready', 'False', 'ManifestsInvalid'), cond('Stalled', 'True', 'ManifestsInvalid', 'stacks/web.yaml:3:5 bad')]),
      version(9, C, C, [cond('Ready', 'False', 'CrashLoop', '0/1 services ready'), cond('Degraded', 'True', 'CrashLoop', 'web-api-1 is crash-looping (exit code 3)')]),
    ]);
    expect(deploys.map((d) => d.outcome)).toEqual(['degraded', 'invalid', 'superseded']);
    expect(deploys[0]?.message).toBe('CrashLoop: web-api-1 is crash-looping (exit code 3)');
  });

  it('renders as a table, newest first', () => {
    const text = renderHistory('web', deploysOf([version(0, A, undefined, progressing), version(75, A, A, ready)]), 'capstan/status of /srv/infra');
    expect(text).toBe([
      'Deploys of web (from capstan/status of /srv/infra), newest first:',
      'STARTED               REVISION  OUTCOME    DURATION  MESSAGE',
      '2026-12-01T10:00:00Z  aaaaaaa   succeeded  1m15s     Converged: 1/1 services ready',
      '',
    ].join('\n'));
    expect(renderHistory('web', [], 'x')).toBe('No deploys of web in x.\n');
  });
});
