// Where the router keeps its state under <data-dir>/router/: the last
// accepted table (written to a temp file and renamed, so a crash leaves the
// old or the new file, never half of one), the admin socket, and the admin
// token of the TCP transport (mode 0600, like the table).

import fs from 'node:fs/promises';
import path from 'node:path';
import { parseTable, type RoutingTable } from './table.js';

export interface RouterPaths {
  dir: string;
  table: string;
  socket: string;
  token: string;
}

export function routerPaths(dataDir: string): RouterPaths {
  const dir = path.resolve(dataDir, 'router');
  return { dir, table: path.join(dir, 'table.json'), socket: path.join(dir, 'admin.sock'), token: path.join(dir, 'admin.token') };
}

export async function saveTable(file: string, table: RoutingTable): Promise<void> {
  await writeAtomically(file, `${JSON.stringify(table, null, 2)}\n`);
}

/** A reader never sees a half-written token. */
export async function saveToken(file: string, token: string): Promise<void> {
  await writeAtomically(file, `${token}\n`);
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.rename(tmp, file);
}

export type LoadedTable = { kind: 'none' } | { kind: 'table'; table: RoutingTable } | { kind: 'invalid'; problems: string[] };

export async function loadTable(file: string): Promise<LoadedTable> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { kind: 'invalid', problems: [`not JSON: ${(err as Error).message}`] };
  }
  const r = parseTable(json);
  if (!r.ok) return { kind: 'invalid', problems: r.problems };
  return { kind: 'table', table: { ...r.table, version: r.table.version ?? 0 } };
}
