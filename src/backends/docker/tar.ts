// A minimal tar writer (POSIX ustar, with a pax header for long names): the
// engine takes build contexts and files copied into containers as tar
// streams. Entries are written one at a time, so a big build context never
// sits in memory whole.

import { Readable } from 'node:stream';

export interface TarEntry {
  /** Relative POSIX path inside the archive. */
  name: string;
  data: Uint8Array;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  uid?: number;
  gid?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, mode: number, uid: number, gid: number, type: '0' | 'x'): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(uid, 8), 108, 'ascii');
  h.write(octal(gid, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  // A fixed mtime: the same files always make the same archive.
  h.write(octal(0, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** A pax record `"<len> path=<name>\n"`, whose length counts its own digits. */
function paxPath(name: string): Buffer {
  const body = ` path=${name}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`, 'utf8');
}

function* blocks(entry: TarEntry): Generator<Buffer> {
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  let name = entry.name;
  if (Buffer.byteLength(name) > 100) {
    const pax = paxPath(name);
    yield header('././@PaxHeader', pax.length, 0o644, 0, 0, 'x');
    yield pax;
    yield padding(pax.length);
    name = name.slice(0, 99);
  }
  yield header(name, entry.data.length, entry.mode, uid, gid, '0');
  yield Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
  yield padding(entry.data.length);
}

/** The archive of `entries`, pulled lazily as the engine reads. */
export function tarStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Readable {
  async function* all(): AsyncGenerator<Buffer> {
    for await (const entry of entries) yield* blocks(entry);
    yield Buffer.alloc(BLOCK * 2, 0);
  }
  return Readable.from(all(), { objectMode: false });
}
