// Logs go to stderr as pino JSON (one line per event); stdout is kept for a
// command's own output so `capstan plan --format json | jq` works.

import { pino, type Logger } from 'pino';
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';

export type { Logger };
export type LogFormat = 'json' | 'pretty';

// Tokens must never reach a log line, whatever object carries them.
const REDACT = ['token', 'password', '*.token', '*.password', 'headers.authorization', '*.headers.authorization', 'credentials'];

/** Where log text goes: stderr, unless live progress lines (cli/progress-line.ts) take it to print it above them. */
let stderrSink = (text: string): void => {
  writeSync(2, text);
};

/** Routes log output through `sink` until the returned function is called. */
export function interceptLogOutput(sink: (text: string) => void): () => void {
  const before = stderrSink;
  stderrSink = sink;
  return () => {
    stderrSink = before;
  };
}

export function createLogger(opts: { format: LogFormat; level: string }): Logger {
  const base = { level: opts.level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined };
  // Synchronous, like pino.destination({ sync: true }): a line is out before the process can exit.
  const out = { write: (text: string): void => stderrSink(text) };
  if (opts.format === 'pretty') {
    // Loaded only when asked for: it is not needed on the hot start-up path.
    const require = createRequire(import.meta.url);
    const pretty = require('pino-pretty') as (o: Record<string, unknown>) => NodeJS.WritableStream;
    const destination = new Writable({ write: (chunk: Buffer, _enc, done) => { stderrSink(chunk.toString()); done(); } });
    return pino(base, pretty({ destination, colorize: process.stderr.isTTY, singleLine: true, ignore: 'pid,hostname' }));
  }
  return pino(base, out);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
