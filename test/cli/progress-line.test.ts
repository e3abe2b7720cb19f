// Progress as a person sees it: live lines redrawn in place on a TTY with log
// lines kept above them, and plain log lines (one per change) elsewhere.

import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createLogger } from '../../src/logging/logger.js';
import { LiveProgress, LoggedProgress } from '../../src/cli/progress-line.js';

/** A clock whose timers run when the test says. */
function manualClock(): { clock: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout }; tick: () => void } {
  let pending: (() => void) | undefined;
  const clock = {
    setTimeout: ((fn: () => void) => {
      pending = fn;
      return { unref: () => undefined } as unknown as NodeJS.Timeout;
    }) as unknown as typeof setTimeout,
    clearTimeout: (() => {
      pending = undefined;
    }) as unknown as typeof clearTimeout,
  };
  return { clock, tick: () => { const fn = pending; pending = undefined; fn?.(); } };
}

/** What a terminal shows after `writes`: handles \r, "cursor up n" and "clear to end". */
function screen(writes: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  for (let i = 0; i < writes.length; i++) {
    const rest = writes.slice(i);
    // eslint-disable-next-line no-control-regex -- the escape sequences are what is under test
    const up = /^\x1b\[(\d+)A/.exec(rest);
    if (up !== null) { row = Math.max(0, row - Number(up[1])); i += up[0].length - 1; continue; }
    if (rest.startsWith('\x1b[J')) { lines.length = row + 1; lines[row] = ''; i += 2; continue; }
    const c = writes[i];
    if (c === '\r') lines[row] = '';
    else if (c === '\n') { row++; lines[row] ??= ''; }
    else lines[row] = (lines[row] ?? '') + c;
  }
  return lines.filter((l, i) => l !== '' || i < row);
}

describe('LiveProgress on a TTY', () => {
  it('redraws one line per piece in place, with a bar, and leaves a ✓ line when done', () => {
    let out = '';
    const { clock, tick } = manualClock();
    const p = new LiveProgress({ write: (t) => (out += t), columns: 100 }, clock);
    p.update('build web-api:1f2e', 'step 1/4: FROM busybox', 0);
    p.update('rollout web/api', '0/3 replicas updated', 0);
    tick();
    expect(screen(out)).toEqual(['… build web-api:1f2e: step 1/4: FROM busybox [--------------------] 0%', '… rollout web/api: 0/3 replicas updated [--------------------] 0%']);
    p.update('rollout web/api', '2/3 replicas updated', 2 / 3);
    p.done('build web-api:1f2e', 'built');
    tick();
    expect(screen(out)).toEqual(['✓ build web-api:1f2e: built', '… rollout web/api: 2/3 replicas updated [#############-------] 67%']);
    p.done('rollout web/api', 'rolled back: web-api-2-next failed', false);
    p.close();
    expect(screen(out)).toEqual(['✓ build web-api:1f2e: built', '✗ rollout web/api: rolled back: web-api-2-next failed']);
  });

  it('prints log lines above the live block, not through it, while it is open', () => {
    let out = '';
    const { clock, tick } = manualClock();
    const p = new LiveProgress({ write: (t) => (out += t), columns: 100 }, clock);
    const logger = createLogger({ format: 'json', level: 'info' });
    p.update('apply', '1/5 operations', 0.2);
    tick();
    logger.info('created web-api-1');
    const shown = screen(out);
    expect(shown).toHaveLength(2);
    expect(JSON.parse(shown[0] ?? '')).toMatchObject({ msg: 'created web-api-1' });
    expect(shown[1]).toBe('… apply: 1/5 operations [####----------------] 20%');
    p.close();
  });

  it('cuts lines to the terminal width, so a redraw never wraps', () => {
    let out = '';
    const { clock, tick } = manualClock();
    const p = new LiveProgress({ write: (t) => (out += t), columns: 30 }, clock);
    p.update('build a-very-long-image-name:0123456789ab', 'step 2/9: RUN make everything');
    tick();
    expect(screen(out)[0]).toHaveLength(29);
    p.close();
  });
});

describe('LoggedProgress elsewhere', () => {
  it('says each change of text once, as log lines that keep the log format', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info', base: undefined }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
    const p = new LoggedProgress(logger);
    p.update('rollout web/api', '0/2 replicas updated', 0);
    p.update('rollout web/api', '0/2 replicas updated', 0.1);
    p.update('rollout web/api', '1/2 replicas updated', 0.5);
    p.done('rollout web/api', '2/2 replicas updated');
    expect(lines.map((l) => l['msg'])).toEqual(['rollout web/api: 0/2 replicas updated', 'rollout web/api: 1/2 replicas updated', 'rollout web/api: 2/2 replicas updated']);
    expect(lines[1]).toMatchObject({ progress: 'rollout web/api', fraction: 0.5 });
  });

  it('is quiet under --log-level warn', () => {
    const lines: string[] = [];
    const p = new LoggedProgress(pino({ level: 'warn' }, { write: (s: string) => lines.push(s) }));
    p.update('apply', '0/1 operations', 0);
    p.done('apply', '1/1 operations applied');
    expect(lines).toEqual([]);
  });
});
