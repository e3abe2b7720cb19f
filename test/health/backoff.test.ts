import { describe, expect, it } from 'vitest';
import { appendRun, crashBackoff, type RunRecord } from '../../src/health/backoff.js';

/** `n` consecutive 2-second runs, each restarted right when allowed. */
function crashes(n: number): RunRecord[] {
  const runs: RunRecord[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    runs.push({ startedAt: t, finishedAt: t + 2000, exitCode: 1 });
    t += 2000 + crashBackoff(runs, t + 2000).delayMs;
  }
  return runs;
}

describe('crash-loop backoff', () => {
  it('never waits without history', () => {
    expect(crashBackoff([], 123)).toEqual({ crashes: 0, delayMs: 0, until: 123, waiting: false });
  });

  it('restarts a single death at once, then waits 1 s, doubling per crash in a row', () => {
    expect(crashBackoff(crashes(1), 2000)).toMatchObject({ crashes: 1, delayMs: 0, waiting: false });
    const two = crashes(2);
    const end = (two[1] as RunRecord).finishedAt;
    expect(crashBackoff(two, end)).toMatchObject({ crashes: 2, delayMs: 1000, until: end + 1000, waiting: true });
    expect(crashBackoff(two, end + 1000).waiting).toBe(false);
    expect(crashes(6).map((_, i, all) => crashBackoff(all.slice(0, i + 1), 0).delayMs)).toEqual([0, 1000, 2000, 4000, 8000, 16000]);
  });

  it('caps at 5 minutes', () => {
    expect(crashBackoff(crashes(30), 0).delayMs).toBe(300_000);
  });

  it('a run of 60 s or more resets the count', () => {
    const history: RunRecord[] = [...crashes(6)];
    const last = history[history.length - 1] as RunRecord;
    history.push({ startedAt: last.finishedAt + 100, finishedAt: last.finishedAt + 100 + 60_000, exitCode: 137 });
    expect(crashBackoff(history, 0).crashes).toBe(0);
    history.push({ startedAt: last.finishedAt + 70_000, finishedAt: last.finishedAt + 71_000, exitCode: 1 });
    expect(crashBackoff(history, 0)).toMatchObject({ crashes: 1, delayMs: 0 });
  });

  it('appendRun ignores a run already recorded and keeps the newest', () => {
    const run = { startedAt: 1, finishedAt: 2, exitCode: 1 };
    expect(appendRun(appendRun([], run), run)).toHaveLength(1);
    const many = Array.from({ length: 40 }, (_, i) => ({ startedAt: i * 10, finishedAt: i * 10 + 1, exitCode: 1 }));
    expect(many.reduce<RunRecord[]>((h, r) => appendRun(h, r, 32), [])).toHaveLength(32);
  });
});
