// A load may take stacks of an earlier load as they are (the daemon's
// loader passes those whose reads are unchanged by Git id): they are not
// parsed again, yet a problem across stacks that involves one is still
// reported at its file and line.

import { describe, expect, it } from 'vitest';
import { loadStacks, type LoadResult, type ReusableStack } from '../../src/manifests/load.js';
import { errorsOf } from './helpers.js';

const opts = { root: 'stacks', env: {} };

function loadWith(files: Record<string, string>, reuse: ReadonlyMap<string, ReusableStack>): LoadResult {
  return loadStacks(new Map(Object.entries(files)), { ...opts, reuse });
}

/** The clean stacks of `r` as the daemon's loader keeps them, by compose file. */
function reusable(r: LoadResult): Map<string, ReusableStack> {
  return new Map(r.inputs.flatMap((i) => {
    const spec = r.stacks.find((s) => s.name === i.name);
    return spec === undefined ? [] : [[i.file, { name: i.name, reads: i.reads, spec }] as const];
  }));
}

const web = 'services:\n  web:\n    image: nginx:1\n';

describe('reusing stacks of an earlier load', () => {
  it('takes a reused stack as it was, without reading its file again', () => {
    const first = loadStacks(new Map(Object.entries({ 'stacks/a.yaml': web, 'stacks/b.yaml': web })), opts);
    expect(errorsOf(first)).toEqual([]);
    // b's file is now garbage: were it parsed, the load would fail.
    const second = loadWith({ 'stacks/a.yaml': web, 'stacks/b.yaml': 'services: [' }, new Map([...reusable(first)].filter(([f]) => f === 'stacks/b.yaml')));
    expect(errorsOf(second)).toEqual([]);
    expect(second.stacks.find((s) => s.name === 'b')).toBe(first.stacks.find((s) => s.name === 'b'));
    expect(second.stacks.find((s) => s.name === 'a')).not.toBe(first.stacks.find((s) => s.name === 'a'));
  });

  it('records where a .env would be, so adding one changes what the stack read', () => {
    const r = loadStacks(new Map(Object.entries({ 'stacks/a.yaml': web, 'stacks/d/compose.yaml': web })), opts);
    expect(r.inputs.map((i) => i.reads)).toEqual([['stacks/.env', 'stacks/a.yaml'], ['stacks/d/.env', 'stacks/d/compose.yaml']]);
  });

  it('still reports a container name shared with a reused stack, at both files and lines', () => {
    const first = loadStacks(new Map(Object.entries({ 'stacks/a.yaml': 'services:\n  b-c:\n    image: nginx:1\n' })), opts);
    const second = loadWith({ 'stacks/a.yaml': 'services:\n  b-c:\n    image: nginx:1\n', 'stacks/a-b.yaml': '# new\nservices:\n  c:\n    image: nginx:1\n' }, reusable(first));
    expect(errorsOf(second)).toEqual([
      expect.stringMatching(/^stacks\/a-b\.yaml:3:3 services\.c: container name a-b-c-1 is also the name of a container of stack a, service b-c/),
      expect.stringMatching(/^stacks\/a\.yaml:2:3 services\.b-c: container name a-b-c-1 is also the name of a container of stack a-b, service c/),
    ]);
    expect(second.stacks).toEqual([]);
  });

  it('still reports a stack name shared with a reused stack', () => {
    const first = loadStacks(new Map(Object.entries({ 'stacks/a.yaml': web })), opts);
    const second = loadWith({ 'stacks/a.yaml': web, 'stacks/a/compose.yaml': web }, reusable(first));
    expect(errorsOf(second)).toEqual([
      expect.stringMatching(/^stacks\/a\.yaml:1:1 .*stack name "a" is also used by stacks\/a\/compose\.yaml/),
      expect.stringMatching(/^stacks\/a\/compose\.yaml:1:1 .*stack name "a" is also used by stacks\/a\.yaml/),
    ]);
  });
});
