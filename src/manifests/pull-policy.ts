// Compose's `pull_policy`, parsed once at the manifest boundary. `missing`
// (the default) pulls what the engine lacks; `never` never pulls; `build`
// means the image comes from `build:`; `always` and the periodic ones
// (`daily`, `weekly`, `every_<duration>`) ask the registry for the tag's
// current digest — on every pass for `always`, at their pace otherwise — and
// pull (and roll the service) only when the tag moved. Pure.

import { parseDurationMs } from './units.js';

export type PullPolicy =
  | { kind: 'missing' }
  | { kind: 'never' }
  | { kind: 'build' }
  /** Look the tag's digest up in the registry at most every `everyMs` (0: every pass). */
  | { kind: 'check'; everyMs: number; text: string };

const DAY_MS = 86_400_000;

/** A PullPolicy, or a sentence saying what is wrong. */
export function parsePullPolicy(text: string): PullPolicy | string {
  const v = text.trim();
  switch (v) {
    case 'missing':
    case 'if_not_present':
      return { kind: 'missing' };
    case 'never':
      return { kind: 'never' };
    case 'build':
      return { kind: 'build' };
    case 'always':
      return { kind: 'check', everyMs: 0, text: v };
    case 'daily':
      return { kind: 'check', everyMs: DAY_MS, text: v };
    case 'weekly':
      return { kind: 'check', everyMs: 7 * DAY_MS, text: v };
  }
  const every = /^every_(.+)$/.exec(v);
  if (every !== null) {
    const ms = parseDurationMs(every[1] ?? '');
    // Compose also writes days as "every_2d"; Go durations stop at hours.
    const days = /^(\d+)d$/.exec(every[1] ?? '');
    const total = days !== null ? Number(days[1]) * DAY_MS : ms;
    if (total !== undefined && total > 0) return { kind: 'check', everyMs: total, text: v };
    return `invalid pull_policy ${JSON.stringify(v)}: expected every_<duration>, e.g. every_12h or every_30m`;
  }
  return `pull_policy must be one of missing, always, never, build, daily, weekly or every_<duration>, got ${JSON.stringify(v)}`;
}

/** The policy's own words, for plans and logs. */
export function describePullPolicy(policy: PullPolicy): string {
  return policy.kind === 'check' ? policy.text : policy.kind;
}
