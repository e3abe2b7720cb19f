// The operator-host files manifests may name (Compose's absolute `file:`
// sources): only those under --secrets-dir, so a Git push cannot make
// Capstan read /etc/shadow into a container. Read once per load to digest
// them, so changing one on the host rolls the services that use it.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { contentDigest, NO_HOST_FILES, type HostFiles } from '../manifests/files.js';

/** A secrets directory holds a handful of small files; more is a misconfiguration (e.g. --secrets-dir /). */
const MAX_FILES = 1000;

export async function readHostFiles(dir: string | undefined): Promise<HostFiles> {
  if (dir === undefined) return NO_HOST_FILES;
  const root = path.resolve(dir);
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (err) {
    throw new ConfigError(`--secrets-dir ${dir}: cannot read it (${err instanceof Error && 'code' in err ? String(err.code) : String(err)})`, 'create the directory, readable by Capstan, or drop --secrets-dir');
  }
  const files = entries.filter((e) => e.isFile());
  if (files.length > MAX_FILES) throw new ConfigError(`--secrets-dir ${dir} holds more than ${MAX_FILES} files`, 'point it at a directory that holds only the secrets manifests may use');
  const digests = new Map<string, string>();
  for (const f of files) {
    const full = path.join(f.parentPath, f.name);
    digests.set(full.split(path.sep).join('/'), contentDigest(await readFile(full)));
  }
  return { dir: root.split(path.sep).join('/'), digests };
}
