// What every contender offers the round runner, and what it reports. The
// runner interleaves contenders round by round (bench/lib/rounds.ts), so
// each contender's measurement is split into steps it can take one at a time.

import type { Samples } from './timing.js';

export interface Contender {
  readonly name: string;
  /** From nothing of its own on the engine to converged; removes its own leftovers first, untimed. Leaves the stack running. */
  cold(): Promise<number>;
  /** Samples of passes that must change nothing (a contender may take several per round). */
  noop?(): Promise<number[]>;
  /** Change one service's environment; timed until converged. */
  change?(): Promise<number>;
  /** Remove everything it created. Safe to call more than once. */
  dispose(): Promise<void>;
  /** Anything that qualifies its numbers (e.g. a no-op that did something). */
  readonly notes: Set<string>;
}

export interface ContenderResult {
  cold: Samples;
  noop: Samples | undefined;
  change: Samples | undefined;
  notes: string[];
}
