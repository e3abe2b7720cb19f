// Logs go to stderr as pino JSON (one line per event); stdout is kept for a
// command's own output so `capstan plan --format json | jq` works.

import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { writeStderr } from './status-line.js';

export type { Logger };
export type LogFormat = 'json' | 'pretty';

// Tokens must never reach a log line, whatever object carries them.
const REDACT = ['token', 'password', '*.token', '*.password', 'headers.authorization', '*.headers.authorization', 'credentials'];

export function createLogger(opts: { format: LogFormat; level: string }): Logger {
  const base = { level: opts.level, redact: { paths: REDACT, censor: '[redacted]' }, base: undefined };
  if (opts.format === 'pretty') {
    // Loaded only when asked for: it is not needed on the hot start-up path.
    const require = createRequire(import.meta.url);
    const pretty = require('pino-pretty') as (o: Record<string, unknown>) => NodeJS.WritableStream;
    const destination = new Writable({ write: (chunk: Buffer, _enc, done) => { writeStderr(chunk.toString()); done(); } });
    return pino(base, pretty({ destination, sync: true, colorize: process.stderr.isTTY, singleLine: true, ignore: 'pid,hostname' }));
  }
  // Through writeStderr, so a live status line on the terminal stays below the logs.
  return pino(base, { write: writeStderr });
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
