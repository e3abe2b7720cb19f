// One live line at the bottom of a terminal (`capstan apply`'s pull
// progress): redrawn in place with a carriage return, and cleared before any
// log line is written so logs and the line never share a row. Everything
// that goes to stderr passes through writeStderr for that reason.

import { writeSync } from 'node:fs';

let line: string | undefined;

/** Writes to stderr, keeping the live line (if any) below what was written. */
export function writeStderr(text: string): void {
  if (line === undefined) {
    writeSync(2, text);
    return;
  }
  writeSync(2, `\r\x1b[K${text}${line}`);
}

/** Shows `text` as the live line (cut to the terminal's width); undefined removes it. */
export function setStatusLine(text: string | undefined): void {
  const width = process.stderr.columns ?? 100;
  const next = text === undefined ? undefined : text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text;
  if (next === line) return;
  writeSync(2, `\r\x1b[K${next ?? ''}`);
  line = next;
}
