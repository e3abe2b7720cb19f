// POST /api/apply (DESIGN §8): `capstan apply` asking the daemon that leads
// the instance to make the pass. What the command sends (the target it names)
// and what the daemon answers (what the command prints), shared by both ends.

import { z } from 'zod';

/** What a `capstan apply` names; the daemon answers 409 unless it follows the same. */
export interface ApplyTarget {
  instance: string;
  repo: string;
  branch: string;
  path: string;
  backend: string;
}

export const applyTargetSchema = z.object({ instance: z.string(), repo: z.string(), branch: z.string(), path: z.string(), backend: z.string() });

/** POST /api/apply's answer: what `capstan apply` prints, and the failures it exits 1 with. */
export interface ApplyAnswer {
  instance: string;
  revision: string | undefined;
  /** Every stack's planned operations, one line each. */
  lines: string[];
  applied: number;
  failures: { stack: string; operation: string; message: string; code: string | undefined; hint: string | undefined }[];
  /** The newest commit's problems (file:line), when its manifests are invalid. */
  invalid: string[];
  /** Changes a closed sync window holds. */
  windowHeld: { changes: number; windows: string[] } | undefined;
  /** `stack/service` whose failed rolling update holds this revision. */
  held: string[];
  /** Canary steps waiting for `capstan promote`: `stack/service` and the step. */
  awaiting: { service: string; step: string }[];
  /** Stacks the daemon stopped before they were done (it was shutting down). */
  unfinished: string[];
  /** The daemon could not read the branch (Git down, credentials refused): nothing was applied for this request. */
  error?: { code: string; message: string; hint: string | undefined } | undefined;
}
