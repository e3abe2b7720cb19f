// `capstan validate [DIR]`: parse and validate manifests without Docker,
// either from a directory on disk or, with --repo, at a ref of the repository.

import { homedir } from 'node:os';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { allowedEnvironment, type Settings } from '../config/settings.js';
import { ManifestsInvalidError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { loadStacks } from '../manifests/load.js';
import { credentialsFromEnv } from '../source/credentials.js';
import { openSource } from '../source/git-source.js';
import type { RepoTree } from '../manifests/repo-tree.js';
import { POLICY_FILE } from '../reconciler/desired-source.js';
import { readHostFiles } from '../secrets/host-files.js';

export async function validateCommand(settings: Settings, logger: Logger, opts: { dir?: string; ref?: string }): Promise<number> {
  const env = allowedEnvironment(settings, process.env);
  let files: Map<string, string>;
  let root: string;
  let label: string;
  let policyFile: { path: string; text: string } | undefined;
  let tree: RepoTree | undefined;
  if (opts.dir === undefined && settings.repo !== undefined) {
    const source = openSource({ repo: settings.repo, branch: settings.branch, dataDir: settings.dataDir, credentials: credentialsFromEnv(process.env), logger });
    const revision = await source.resolve(opts.ref);
    files = await source.readFiles(revision, settings.path);
    tree = await source.listTree(revision);
    const text = (await source.readFiles(revision, POLICY_FILE)).get(POLICY_FILE);
    policyFile = text === undefined ? undefined : { path: POLICY_FILE, text };
    root = settings.path;
    label = `${settings.path} at ${revision.slice(0, 7)}`;
  } else {
    // Paths in messages are relative to the directory given, as the user typed it.
    const dir = opts.dir ?? settings.path;
    files = await readTree(dir);
    policyFile = await findPolicyFile(dir);
    root = '';
    label = dir;
  }
  const hostFiles = await readHostFiles(settings.secretsDir);
  const result = loadStacks(files, { root, env, policyFile, profiles: settings.profiles, tree, hostFiles, home: homedir() });
  for (const w of result.warnings) process.stderr.write(`warning: ${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}\n`);
  if (result.errors.length > 0) throw new ManifestsInvalidError(result.errors);
  const services = result.stacks.reduce((n, s) => n + Object.keys(s.services).length, 0);
  process.stdout.write(`${label}: ${result.stacks.length} stack${result.stacks.length === 1 ? '' : 's'}, ${services} service${services === 1 ? '' : 's'}, valid.\n`);
  return 0;
}

/**
 * The capstan.yaml whose policy applies to `dir`: in `dir` itself or the
 * nearest directory above it, stopping at the repository root (the first
 * directory holding `.git`). Its path in messages is relative to `dir`.
 */
async function findPolicyFile(dir: string): Promise<{ path: string; text: string } | undefined> {
  let current = path.resolve(dir);
  for (let depth = 0; depth < 64; depth++) {
    const candidate = path.join(current, POLICY_FILE);
    const text = await readFile(candidate, 'utf8').catch(() => undefined);
    if (text !== undefined) return { path: path.relative(path.resolve(dir), candidate).split(path.sep).join('/'), text };
    const atRepoRoot = await stat(path.join(current, '.git')).then(() => true, () => false);
    const parent = path.dirname(current);
    if (atRepoRoot || parent === current) return undefined;
    current = parent;
  }
  return undefined;
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
