// `capstan validate [DIR]`: parse and validate manifests without Docker,
// either from a directory on disk or, with --repo, at a ref of the repository.

import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { allowedEnvironment, type Settings } from '../config/settings.js';
import { ManifestsInvalidError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { loadStacks } from '../manifests/load.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { openSource } from '../source/git-source.js';

export async function validateCommand(settings: Settings, logger: Logger, opts: { dir?: string; ref?: string }): Promise<number> {
  const env = allowedEnvironment(settings, process.env);
  let files: Map<string, string>;
  let root: string;
  let label: string;
  if (opts.dir === undefined && settings.repo !== undefined) {
    const source = openSource({ repo: settings.repo, branch: settings.branch, dataDir: settings.dataDir, credentials: credentialsFromEnv(process.env), logger });
    const revision = await source.resolve(opts.ref);
    files = await source.readFiles(revision, settings.path);
    root = settings.path;
    label = `${settings.path} at ${revision.slice(0, 7)}`;
  } else {
    // Paths in messages are relative to the directory given, as the user typed it.
    const dir = opts.dir ?? settings.path;
    files = await readTree(dir);
    root = '';
    label = dir;
  }
  const result = loadStacks(files, { root, env });
  for (const w of result.warnings) process.stderr.write(`warning: ${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}\n`);
  if (result.errors.length > 0) throw new ManifestsInvalidError(result.errors);
  const services = result.stacks.reduce((n, s) => n + Object.keys(s.services).length, 0);
  process.stdout.write(`${label}: ${result.stacks.length} stack${result.stacks.length === 1 ? '' : 's'}, ${services} service${services === 1 ? '' : 's'}, valid.\n`);
  return 0;
}

/** Every file below `dir`, keyed by POSIX path relative to it. */
async function readTree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files.set(path.relative(dir, full).split(path.sep).join('/'), await readFile(full, 'utf8'));
  }
  return files;
}
