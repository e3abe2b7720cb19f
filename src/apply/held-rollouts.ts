// The one piece of rollout state that cannot be read off the engine: "this
// revision's update of this service failed and must not be retried". It is
// decided before the way back starts and written to the data dir at once
// (temp file + rename), so a kill -9 mid-rollback resumes the rollback and a
// restarted operator does not try the failed revision again.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { DataDirWriteError } from '../errors.js';
import type { ServiceSpec } from '../manifests/model.js';
import type { HeldRollout } from '../strategies/rolling.js';

const heldSchema = z.object({
  stack: z.string(),
  service: z.string(),
  revision: z.string(),
  specHash: z.string(),
  end: z.enum(['rolled-back', 'paused', 'rollback-failed']),
  reason: z.string(),
  // Written by this module from a ServiceSpec; its shape is checked where it was made.
  restored: z.object({ spec: z.looseObject({ image: z.string() }), specHash: z.string() }).optional(),
  at: z.number(),
  strategy: z.enum(['canary', 'blue-green']).optional(),
});
const fileSchema = z.object({ held: z.array(heldSchema) });

export interface HeldRolloutStore {
  list(): Promise<HeldRollout[]>;
  /** Records (or replaces) the hold of one service. */
  hold(held: HeldRollout): Promise<void>;
  /** The service rolled out fine (a new commit, or --force): forget its hold. */
  release(stack: string, service: string): Promise<void>;
}

export function heldRolloutsFile(dataDir: string, instance: string): string {
  return join(dataDir, 'rollouts', `${instance}.json`);
}

export function fileHeldRollouts(file: string): HeldRolloutStore {
  // Writes are serialized: two services failing in one pass must not lose one another's record.
  let queue: Promise<unknown> = Promise.resolve();
  const read = async (): Promise<HeldRollout[]> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return [];
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return [];
    }
    // A record this version cannot read is dropped: the worst case is one more try of a failed revision.
    const parsed = fileSchema.safeParse(raw);
    return parsed.success ? parsed.data.held.map(toHeld) : [];
  };
  const update = (change: (all: HeldRollout[]) => HeldRollout[]): Promise<void> => {
    const step = queue.then(async () => {
      const next = change(await read());
      const tmp = `${file}.${process.pid}.tmp`;
      try {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        await writeFile(tmp, `${JSON.stringify({ held: next }, null, 2)}\n`, { mode: 0o600 });
        await rename(tmp, file);
      } catch (err) {
        await rm(tmp, { force: true });
        throw DataDirWriteError.from(err, file);
      }
    });
    queue = step.catch(() => undefined);
    return step;
  };
  return {
    list: read,
    hold: (held) => update((all) => [...all.filter((h) => !(h.stack === held.stack && h.service === held.service)), held]),
    release: async (stack, service) => {
      if (!(await read()).some((h) => h.stack === stack && h.service === service)) return;
      await update((all) => all.filter((h) => !(h.stack === stack && h.service === service)));
    },
  };
}

function toHeld(h: z.output<typeof heldSchema>): HeldRollout {
  const restored = h.restored === undefined ? undefined : { spec: h.restored.spec as unknown as ServiceSpec, specHash: h.restored.specHash };
  return { stack: h.stack, service: h.service, revision: h.revision, specHash: h.specHash, end: h.end, reason: h.reason, restored, at: h.at, ...(h.strategy === undefined ? {} : { strategy: h.strategy }) };
}

/** For one-shot commands that must not write (plan) and tests. */
export function memoryHeldRollouts(initial: readonly HeldRollout[] = []): HeldRolloutStore {
  let all = [...initial];
  return {
    list: async () => [...all],
    hold: async (held) => {
      all = [...all.filter((h) => !(h.stack === held.stack && h.service === held.service)), held];
    },
    release: async (stack, service) => {
      all = all.filter((h) => !(h.stack === stack && h.service === service));
    },
  };
}
