// Shows Progress (src/logging/progress.ts) to a person. On a TTY: one live
// line per piece of work in flight, redrawn in place at most every 100 ms
// (with a bar when the work knows its fraction), each turned into a
// permanent ✓/✗ line when done; log lines are printed above the live block,
// never through it. Not a TTY (CI, a pipe, a file): plain lines, one per
// change of a piece's text (fractions alone do not print) and one when done,
// written as log lines so they keep the log's format (JSON or pretty) and
// its level (info: `--log-level warn` keeps them out, as other info lines).
// Everything goes to stderr; stdout stays the command's output.

import { interceptLogOutput, type Logger } from '../logging/logger.js';
import type { Progress } from '../logging/progress.js';

export interface ProgressOutput {
  write(text: string): void;
  /** Terminal width; lines are cut to it so a redraw never wraps. */
  columns: number | undefined;
}

const REDRAW_MS = 100;
const BAR = 20;

export interface ClosableProgress extends Progress {
  close(): void;
}

/** Plain lines, as log lines: one per change of a piece's text, one when it is done. */
export class LoggedProgress implements ClosableProgress {
  private readonly said = new Map<string, string>();

  constructor(private readonly logger: Logger) {}

  update(key: string, text: string, fraction?: number): void {
    if (this.said.get(key) === text) return;
    this.said.set(key, text);
    this.logger.info({ progress: key, ...(fraction === undefined ? {} : { fraction: Math.round(fraction * 100) / 100 }) }, `${key}: ${text}`);
  }

  /** A failure is info here too: whoever failed logs the error itself. */
  done(key: string, text: string, ok = true): void {
    this.said.delete(key);
    this.logger.info({ progress: key, done: true, ok }, `${key}: ${text}`);
  }

  close(): void {
    this.said.clear();
  }
}

/** Live lines redrawn in place on a terminal. */
export class LiveProgress implements ClosableProgress {
  private readonly active = new Map<string, { text: string; fraction: number | undefined }>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly restoreLogs: () => void;

  constructor(private readonly out: ProgressOutput, private readonly clock: { setTimeout: typeof setTimeout; clearTimeout: typeof clearTimeout } = { setTimeout, clearTimeout }) {
    this.restoreLogs = interceptLogOutput((text) => this.above(text));
  }

  update(key: string, text: string, fraction?: number): void {
    this.active.set(key, { text, fraction: fraction === undefined ? undefined : Math.min(1, Math.max(0, fraction)) });
    this.schedule();
  }

  done(key: string, text: string, ok = true): void {
    this.active.delete(key);
    this.above(`${ok ? '✓' : '✗'} ${key}: ${text}\n`);
  }

  /** Clears the live block for good and gives log output back to stderr. */
  close(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.out.write(this.erase());
    this.restoreLogs();
  }

  /** Permanent text (a finished piece, a log line) printed above the live block. */
  private above(text: string): void {
    this.out.write(`${this.erase()}${text}${text.endsWith('\n') ? '' : '\n'}${this.block()}`);
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.out.write(`${this.erase()}${this.block()}`);
    }, REDRAW_MS);
    this.timer.unref?.();
  }

  /** Moves up over the lines last drawn and clears them. */
  private erase(): string {
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    this.drawn = 0;
    return `\r${up}\x1b[J`;
  }

  private block(): string {
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    const lines = [...this.active].map(([key, { text, fraction }]) => {
      const bar = fraction === undefined ? '' : ` [${'#'.repeat(Math.round(fraction * BAR)).padEnd(BAR, '-')}] ${Math.round(fraction * 100)}%`;
      const line = `… ${key}: ${text}${bar}`;
      return line.length > width ? `${line.slice(0, width - 1)}…` : line;
    });
    this.drawn = lines.length;
    return lines.map((l) => `${l}\n`).join('');
  }
}

/** Progress for a command run by a person (or a pipe): live lines on stderr when it is a TTY, log lines otherwise. */
export function stderrProgress(logger: Logger): ClosableProgress {
  if (process.stderr.isTTY !== true || logger.level === 'silent') return new LoggedProgress(logger);
  return new LiveProgress({ write: (t) => process.stderr.write(t), columns: process.stderr.columns });
}
