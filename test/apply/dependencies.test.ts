import { describe, expect, it } from 'vitest';
import { unmetReason } from '../../src/apply/dependencies.js';
import { desiredService, observedReplica } from '../helpers/specs.js';

const db = desiredService('web', 'db');
const replica = (over: Partial<ReturnType<typeof observedReplica>>) => ({ ...observedReplica(db, 1), ...over });

describe('depends_on conditions', () => {
  it('service_healthy holds only when every replica runs and is healthy, and says why not', () => {
    expect(unmetReason([], 'service_healthy')).toBe('no replica exists');
    expect(unmetReason([replica({ health: 'healthy' })], 'service_healthy')).toBeUndefined();
    expect(unmetReason([replica({ health: 'starting' })], 'service_healthy')).toBe('web-db-1 is starting');
    expect(unmetReason([replica({ health: undefined })], 'service_healthy')).toBe('web-db-1 has no healthcheck');
    expect(unmetReason([replica({ state: 'exited' })], 'service_healthy')).toBe('web-db-1 is exited');
  });
  it('service_completed_successfully holds when every replica exited 0', () => {
    const run = (exitCode: number) => ({ startedAt: 1, finishedAt: 2, exitCode, oomKilled: false });
    expect(unmetReason([replica({ state: 'exited', lastRun: run(0) })], 'service_completed_successfully')).toBeUndefined();
    expect(unmetReason([replica({ state: 'exited', lastRun: run(2) })], 'service_completed_successfully')).toBe('web-db-1 exited with code 2');
    expect(unmetReason([replica({ state: 'running' })], 'service_completed_successfully')).toBe('web-db-1 is running');
  });
});
