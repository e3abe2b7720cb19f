// Runs contenders interleaved: round i of "cold" for every contender, then
// round i+1, and so on, then the no-op rounds, then the change rounds. This
// machine is shared (load from other builds and tests comes and goes), so
// running one contender's whole series after another's would let a busy
// minute decide a ratio; interleaved, a busy minute hits everyone. The order
// inside a round rotates so no contender always runs right after another's
// teardown.

import type { Contender, ContenderResult } from './results.js';
import { summarize } from './timing.js';

export interface Rounds {
  cold: number;
  noop: number;
  change: number;
}

export async function runInterleaved(contenders: readonly Contender[], rounds: Rounds, progress: (m: string) => void): Promise<Map<string, ContenderResult>> {
  const samples = new Map(contenders.map((c) => [c.name, { cold: [] as number[], noop: [] as number[], change: [] as number[] }]));
  const rotated = (i: number) => contenders.map((_, k) => contenders[(k + i) % contenders.length] as Contender);
  const take = (c: Contender) => samples.get(c.name) ?? { cold: [], noop: [], change: [] };

  for (let i = 0; i < rounds.cold; i++) {
    progress(`cold round ${i + 1}/${rounds.cold}`);
    for (const c of rotated(i)) take(c).cold.push(await c.cold());
  }
  for (let i = 0; i < rounds.noop; i++) {
    progress(`no-op round ${i + 1}/${rounds.noop}`);
    for (const c of rotated(i)) if (c.noop !== undefined) take(c).noop.push(...(await c.noop()));
  }
  for (let i = 0; i < rounds.change; i++) {
    progress(`change round ${i + 1}/${rounds.change}`);
    for (const c of rotated(i)) if (c.change !== undefined) take(c).change.push(await c.change());
  }

  const out = new Map<string, ContenderResult>();
  for (const c of contenders) {
    const s = take(c);
    out.set(c.name, {
      cold: summarize(s.cold),
      noop: s.noop.length === 0 ? undefined : summarize(s.noop),
      change: s.change.length === 0 ? undefined : summarize(s.change),
      notes: [...c.notes],
    });
  }
  return out;
}
