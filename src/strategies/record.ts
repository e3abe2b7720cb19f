// What every strategy's persisted record answers the rest of the loop,
// whatever the strategy: which replicas the routing table keeps out of
// rotation, how the router splits the service's requests, which slots the
// rollout owns, and its progress. Pure.

import { blueGreenProgress, type BlueGreenRecord } from './blue-green.js';
import { canaryProgress, canarySplit, type CanaryRecord } from './canary.js';
import { rollingProgress, type RollingRecord } from './rolling.js';
import type { RolloutProgress, TrafficSplit } from './step.js';

export type RolloutRecord = RollingRecord | CanaryRecord | BlueGreenRecord;

/** The little of a replica this needs to know. */
export interface RecordReplica {
  id: string;
  name: string;
  service: string;
  number: number;
  specHash: string;
}

const TWIN = '-next';
const CANARY = '-canary';

/**
 * Replicas the routing table keeps out of rotation because of the record (so
 * it holds after a restart too): a rolling update's drained old replicas, a
 * blue-green set not live, canaries being aborted.
 */
export function heldOut(record: RolloutRecord, replicas: readonly RecordReplica[]): string[] {
  const own = replicas.filter((c) => c.service === record.service);
  switch (record.strategy) {
    case 'rolling': {
      const drained = new Set((record.batch?.slots ?? []).filter((s) => s.drained).map((s) => s.number));
      return own.filter((c) => drained.has(c.number) && c.specHash !== record.targetHash && !c.name.endsWith(TWIN)).map((c) => c.id);
    }
    case 'blue-green': {
      const live = record.phase === 'switched' && !record.switchedBack;
      const slots = new Set(record.slots);
      return own.filter((c) => {
        if (!slots.has(c.number) || c.name.endsWith(CANARY)) return false;
        const isNew = c.name.endsWith(TWIN) && c.specHash === record.targetHash;
        const isOld = !c.name.endsWith(TWIN) && c.specHash !== record.targetHash;
        return live ? isOld : isNew;
      }).map((c) => c.id);
    }
    case 'canary':
      return record.phase === 'aborting' ? own.filter((c) => c.name.endsWith(CANARY)).map((c) => c.id) : [];
  }
}

export function splitOf(record: RolloutRecord): TrafficSplit | undefined {
  return record.strategy === 'canary' ? canarySplit(record) : undefined;
}

/** Whether the record moves slot `number` (its own promotion step is not the planner's to run). */
export function ownsSlot(record: RolloutRecord, number: number): boolean {
  switch (record.strategy) {
    case 'rolling': return record.state.pending.includes(number) || (record.batch?.slots.some((s) => s.number === number) ?? false);
    case 'blue-green': return record.slots.includes(number);
    case 'canary': return record.slots.includes(number);
  }
}

export function progressOf(record: RolloutRecord, wakeAt: number | undefined): RolloutProgress {
  switch (record.strategy) {
    case 'rolling': return rollingProgress(record, wakeAt);
    case 'blue-green': return blueGreenProgress(record, wakeAt);
    case 'canary': return canaryProgress(record, wakeAt);
  }
}
