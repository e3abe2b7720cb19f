// Rollouts in progress, one file per stack under
// <data-dir>/rollouts/<instance>/: the record a step machine hands back is
// written (temp file + rename) before the lane pass ends, so a kill -9 at any
// step resumes from it. Each stack's file is written by its own lane only,
// one pass at a time, so lanes never contend for a file.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DataDirWriteError } from '../errors.js';
import type { RolloutRecord } from '../strategies/record.js';

export interface RolloutStore {
  /** The stack's rollouts in progress, by service. */
  read(stack: string): Promise<Map<string, RolloutRecord>>;
  write(stack: string, records: ReadonlyMap<string, RolloutRecord>): Promise<void>;
}

// Written by this module from a RolloutRecord; a file this version cannot read is dropped (the planner resumes from the labels).
const fileSchema = z.object({ rollouts: z.array(z.looseObject({ strategy: z.enum(['rolling', 'canary', 'blue-green']), service: z.string(), targetHash: z.string() })) });

export function rolloutsDir(dataDir: string, instance: string): string {
  return join(dataDir, 'rollouts', instance);
}

export function fileRolloutStore(dir: string): RolloutStore {
  const file = (stack: string): string => join(dir, `${stack}.json`);
  return {
    async read(stack) {
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file(stack), 'utf8'));
      } catch {
        return new Map();
      }
      const parsed = fileSchema.safeParse(raw);
      if (!parsed.success) return new Map();
      return new Map(parsed.data.rollouts.map((r) => [r.service, r as unknown as RolloutRecord]));
    },
    async write(stack, records) {
      if (records.size === 0) {
        await rm(file(stack), { force: true });
        return;
      }
      const tmp = `${file(stack)}.${process.pid}.tmp`;
      try {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFile(tmp, `${JSON.stringify({ rollouts: [...records.values()] }, null, 2)}\n`, { mode: 0o600 });
        await rename(tmp, file(stack));
      } catch (err) {
        // The record before stays in place; half a temp file would only take the space a retry needs.
        await rm(tmp, { force: true });
        throw DataDirWriteError.from(err, file(stack));
      }
    },
  };
}

export function memoryRolloutStore(): RolloutStore {
  const all = new Map<string, Map<string, RolloutRecord>>();
  return {
    read: async (stack) => new Map(all.get(stack) ?? []),
    write: async (stack, records) => void all.set(stack, new Map(records)),
  };
}
