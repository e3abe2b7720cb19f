// The physical floor: what the engine needs to start 20 such containers when
// nothing else decides anything — 20 `docker run -d` at once, timed until the
// last returns (each returns once its container is started). No tool can be
// faster than this on this machine; the cold-converge goal is a ratio to it.

import { run } from './exec.js';
import { removeContainers, runningContainers } from './engine.js';
import type { Contender } from './results.js';
import { COMMAND, IMAGE, SERVICE_COUNT } from './stack.js';

const LABEL = 'io.capstan.bench=floor';

export function createFloor(): Contender {
  return {
    name: 'floor',
    notes: new Set(),
    async cold() {
      await removeContainers(LABEL);
      const started = performance.now();
      await Promise.all(
        Array.from({ length: SERVICE_COUNT }, (_, i) =>
          run('docker', ['run', '-d', '--name', `capbench-floor-${i + 1}`, '--label', LABEL, IMAGE, ...COMMAND], { timeoutMs: 60_000 }),
        ),
      );
      const ms = performance.now() - started;
      const up = await runningContainers(LABEL);
      if (up !== SERVICE_COUNT) throw new Error(`floor: ${up}/${SERVICE_COUNT} containers running after docker run -d`);
      // Nothing else to measure here: free the engine for the next contender.
      await removeContainers(LABEL);
      return ms;
    },
    async dispose() {
      await removeContainers(LABEL);
    },
  };
}
