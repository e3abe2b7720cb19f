import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { socketLock } from '../../src/leader/socket-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-socket-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the abstract-socket leader lock (no flock program)', () => {
  it('is held by one at a time, names its holder, and passes to a waiter the moment it is let go', async () => {
    const path = join(dir, 'prod.leader');
    const first = socketLock(path);
    const second = socketLock(path);
    expect(await first.holder()).toBeUndefined();
    const held = await first.acquire(new AbortController().signal);
    expect(held).toBeDefined();
    expect(await second.holder()).toMatch(new RegExp(`^pid ${process.pid} on \\S+ since `));
    const waiting = second.acquire(new AbortController().signal);
    let taken = false;
    void waiting.then(() => (taken = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(taken).toBe(false);
    await held?.release();
    const next = await waiting;
    expect(next).toBeDefined();
    await next?.release();
    // Another path is another lock.
    expect(await socketLock(join(dir, 'staging.leader')).holder()).toBeUndefined();
  });

  it('gives up waiting when told to', async () => {
    const path = join(dir, 'abort.leader');
    const held = await socketLock(path).acquire(new AbortController().signal);
    const stop = new AbortController();
    const waiting = socketLock(path).acquire(stop.signal);
    stop.abort();
    expect(await waiting).toBeUndefined();
    await held?.release();
  });
});
