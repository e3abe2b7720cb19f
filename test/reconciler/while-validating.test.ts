// While a commit validates, the daemon's passes go on with the last desired
// state (healing never waits for a big commit), and the end of the
// validation asks for a pass.
import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../src/desired/model.js';
import { silentLogger } from '../../src/logging/logger.js';
import { WhileValidating } from '../../src/reconciler/while-validating.js';

const state = (revision: string): DesiredState => ({ revision, stacks: [] });

describe('WhileValidating', () => {
  it('serves the last desired state until the new one is ready, then asks for a pass', async () => {
    let release: (() => void) | undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const inner = { load: async (rev: string): Promise<DesiredState> => (rev === 'b' ? slow.then(() => state('b')) : state(rev)) };
    const settled: string[] = [];
    const loader = new WhileValidating(inner, { graceMs: 10, onSettled: (r) => settled.push(r), logger: silentLogger() });
    expect((await loader.load('a')).revision).toBe('a');
    expect((await loader.load('b')).revision).toBe('a');
    expect((await loader.load('b')).revision).toBe('a');
    expect(settled).toEqual([]);
    release?.();
    await slow;
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toEqual(['b']);
    expect((await loader.load('b')).revision).toBe('b');
  });
  it('waits for the first commit, and passes on what a finished validation says', async () => {
    const inner = { load: async (rev: string): Promise<DesiredState> => (rev === 'bad' ? Promise.reject(new Error('invalid')) : state(rev)) };
    const loader = new WhileValidating(inner, { graceMs: 1000, onSettled: () => undefined, logger: silentLogger() });
    expect((await loader.load('a')).revision).toBe('a');
    await expect(loader.load('bad')).rejects.toThrow('invalid');
  });
});
