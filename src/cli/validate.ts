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
import { treeFromFiles, type RepoTree, type TreeEntry } from '../manifests/repo-tree.js';
import { POLICY_FILE } from '../reconciler/desired-source.js';
import { readHostFiles } from '../secrets/host-files.js';
import { readOperatorPolicy, resolveHostPath } from '../config/policy-file.js';

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
    const read = await readTree(dir);
    files = read.files;
    // Symbolic links are listed as the Git tree would list them, so a bind through one is refused here too.
    tree = new Map([...treeFromFiles(files), ...read.links.map((l): [string, TreeEntry] => [l, { type: 'link', id: '' }])]);
    policyFile = await findPolicyFile(dir);
    root = '';
    label = dir;
  }
  const hostFiles = await readHostFiles(settings.secretsDir);
  const operatorPolicy = await readOperatorPolicy(settings.policy);
  const result = loadStacks(files, { root, env, policyFile, operatorPolicy, resolveHostPath, profiles: settings.profiles, tree, hostFiles, home: homedir(), backend: settings.backend });
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

/** Every file below `dir`, keyed by POSIX path relative to it, and the symbolic links (never followed). */
async function readTree(dir: string): Promise<{ files: Map<string, string>; links: string[] }> {
  const files = new Map<string, string>();
  const links: string[] = [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    const full = path.join(entry.parentPath, entry.name);
    const rel = path.relative(dir, full).split(path.sep).join('/');
    if (entry.isSymbolicLink()) links.push(rel);
    else if (entry.isFile()) files.set(rel, await readFile(full, 'utf8'));
  }
  return { files, links };
}
