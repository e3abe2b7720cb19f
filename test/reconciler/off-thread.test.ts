// The daemon's validation: inline when a commit has little new to parse, in
// a worker thread otherwise; the worker stops when idle and starts again on
// the next large load. Uses the built worker (dist/, made by `npm test`'s
// setup) and falls back to inline without it, as the daemon does.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { offThreadLoader } from '../../src/reconciler/off-thread.js';

const WORKER = new URL('../../dist/validate-worker.js', import.meta.url);
const files = new Map([['stacks/web.yaml', 'services:\n  web:\n    image: nginx:1\n    deploy: { replicas: 2 }\n']]);
const opts = { root: 'stacks', env: {} };

describe.runIf(existsSync(fileURLToPath(WORKER)))('validation off the main thread', () => {
  it('loads in the worker, and again after the idle worker was stopped', async () => {
    const load = offThreadLoader(WORKER, { inlineBytes: 0, idleMs: 20 });
    const first = await load(files, opts);
    expect(first.stacks.map((s) => [s.name, s.services['web']?.replicas])).toEqual([['web', 2]]);
    await new Promise((r) => setTimeout(r, 200));
    const second = await load(files, opts);
    expect(second.stacks.map((s) => s.name)).toEqual(['web']);
  });

  it('reports a bad file from the worker as from an inline load', async () => {
    const bad = new Map([['stacks/web.yaml', 'services:\n  web:\n    image: nginx:1\n    replicas: lots\n']]);
    const viaWorker = await offThreadLoader(WORKER, { inlineBytes: 0, idleMs: 20 })(bad, opts);
    const inline = await offThreadLoader(WORKER, { inlineBytes: 1 << 20, idleMs: 20 })(bad, opts);
    expect(viaWorker.errors.map((e) => e.format())).toEqual(inline.errors.map((e) => e.format()));
    expect(inline.errors.length).toBeGreaterThan(0);
  });
});
