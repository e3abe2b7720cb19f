// Orchestrates one load of every stack under the root: discover → parse YAML
// → interpolate → check keys and types (zod) → normalize → freeze. Collects
// every problem of every file; never throws for bad input. Pure: all file
// contents and the operator's environment arrive as data.

import type { ValidationError } from '../errors.js';
import { posix } from 'node:path';
import { discoverStacks, joinPath, normalizeRoot, normalizeStackName } from './discover.js';
import type { StackCandidate } from './discover.js';
import { parseDotenv } from './dotenv.js';
import type { Dotenv } from './dotenv.js';
import { deepFreeze } from './freeze.js';
import { interpolateTree } from './interpolate.js';
import type { Lookup } from './interpolate.js';
import { resolveExtends } from './extends.js';
import { checkKeys } from './keys.js';
import type { ManifestWarning, StackSpec } from './model.js';
import { NO_HOST_FILES, type HostFiles } from './files.js';
import { normalizeStack, type StackPart } from './normalize.js';
import { parseYaml, toPlain } from './parse-yaml.js';
import { oversized, type ParseOptions, type PathSegment, type YNode } from './parse-yaml.js';
import { resolveInRepo } from './paths.js';
import { RecordingMap } from './reads.js';
import { treeFromFiles, type RepoTree } from './repo-tree.js';
import { checkBaseline } from './baseline.js';
import { checkContainerNames } from './container-names.js';
import { checkLimits } from './limits.js';
import { effectivePolicy, parseRepoPolicy, type OperatorPolicy, type Policy } from './policy.js';
import type { Pos } from './parse-yaml.js';
import { Problems } from './problems.js';
import type { FileProblems } from './problems.js';
import { serviceSchema, stackSchema } from './schema.js';
import type { ServiceInput, StackInput } from './schema.js';
import { reportZodIssues } from './zod-issues.js';

export interface LoadOptions {
  /** The stacks directory relative to the repo root, e.g. 'stacks' (DESIGN --path). '' or '.' means the root. */
  root: string;
  /** The operator's environment allowed for interpolation; it wins over a stack's `.env`, as the shell wins in Compose. */
  env: Readonly<Record<string, string>>;
  /** The repository's capstan.yaml (its `policy:` allows exceptions to the baseline, as far as the operator delegates them); absent means none. */
  policyFile?: { path: string; text: string } | undefined;
  /** The operator's --policy file: exceptions, limits, and what the repository may grant itself. Absent: the repository's grants all count. */
  operatorPolicy?: OperatorPolicy | undefined;
  /** Resolves the symbolic links of a host path as far as it exists, for the host_path rule; default: taken as written. */
  resolveHostPath?: ((path: string) => string) | undefined;
  /** Active Compose profiles; "*" activates all. A service with `profiles:` is left out unless one of them is active. */
  profiles?: readonly string[] | undefined;
  /** Every path of the repository at the commit with its Git id (build contexts, secret files may lie outside `root`); default: derived from `files`. */
  tree?: RepoTree | undefined;
  /** Operator-host files under --secrets-dir, by digest; default: none may be used. */
  hostFiles?: HostFiles | undefined;
  /** The operator user's home directory, for `~` in bind sources; default: `~` is an error. */
  home?: string | undefined;
  /** `swarm`: relative binds must become Swarm configs (Git-tracked files only); default `docker`. */
  backend?: 'docker' | 'swarm' | undefined;
  /**
   * Stacks loaded clean from an earlier commit whose reads are unchanged here
   * (same Git ids, same policy and host files: the caller checks), by
   * compose file: taken as they are instead of parsed again, unless a
   * problem across stacks (a shared name) involves them.
   */
  reuse?: ReadonlyMap<string, ReusableStack> | undefined;
}

/** A clean stack of an earlier load, and what it read. */
export interface ReusableStack {
  name: string;
  reads: readonly string[];
  spec: StackSpec;
}

/** What one stack (valid or not) was read from, for the daemon's per-stack fingerprints and errors. */
export interface StackInputs {
  /** The stack's name (its `name:`, else the file's or directory's), normalized. */
  name: string;
  file: string;
  /** Repository paths read while loading it, sorted; `*` when it read every path. */
  reads: readonly string[];
}

export interface LoadResult {
  /** Stacks without errors, sorted by name. */
  stacks: StackSpec[];
  /** Every stack found, with what it read, in discovery order. */
  inputs: StackInputs[];
  /** Sorted by file, line, col. */
  errors: ValidationError[];
  warnings: ManifestWarning[];
}

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

interface Loaded {
  /** Set once the name is known, even when the stack has errors, so duplicates are still reported. */
  name: string | undefined;
  spec: StackSpec | undefined;
  fp: FileProblems;
  namePos: Pos;
  /** The file that declares each service. */
  fpOf?: (service: string) => FileProblems;
}

/** files: every file under `root`, keyed by repo-relative POSIX path ('stacks/web.yaml' -> content). Pure. */
export function loadStacks(files: ReadonlyMap<string, string>, opts: LoadOptions): LoadResult {
  const problems = new Problems();
  const dotenvs = new Map<string, Dotenv>();
  const repoGrants = opts.policyFile === undefined ? new Map<string, string[]>() : parseRepoPolicy(opts.policyFile.path, opts.policyFile.text, problems, opts.operatorPolicy);
  const policy = effectivePolicy(opts.operatorPolicy, repoGrants, opts.policyFile?.path ?? 'capstan.yaml');
  const loaded: Loaded[] = [];
  const candidates = discoverStacks(files.keys(), opts.root);
  const shared: Shared = {
    tree: opts.tree ?? treeFromFiles(files),
    host: opts.hostFiles ?? NO_HOST_FILES,
    stackFiles: new Set(candidates.filter((c) => c.dir === normalizeRoot(opts.root)).map((c) => c.file)),
    resolveHostPath: opts.resolveHostPath ?? ((p: string) => p),
    parse: { maxBytes: policy.limits.fileBytes, maxKeys: policy.limits.keysPerMapping },
    home: opts.home,
    backend: opts.backend,
  };
  const inputs: StackInputs[] = [];
  const load = (c: StackCandidate): [Loaded, StackInputs] => {
    const seen = new Set<string>();
    const one = loadOne(c, new RecordingMap(files, seen), opts, { ...shared, tree: new RecordingMap(shared.tree, seen) }, policy, problems, dotenvs);
    seen.add(c.file);
    // Where a .env would feed it, present or not: adding one changes the stack.
    seen.add(joinPath(c.dir, '.env'));
    return [one, { name: one.name ?? normalizeStackName(c.defaultName), file: c.file, reads: [...seen].sort() }];
  };
  const reused = new Map<Loaded, StackCandidate>();
  for (const c of candidates) {
    const prior = opts.reuse?.get(c.file);
    const [one, input] = prior === undefined ? load(c) : [{ name: prior.name, spec: prior.spec, fp: problems.forFile(c.file, undefined), namePos: { line: 1, col: 1 } }, { name: prior.name, file: c.file, reads: prior.reads }];
    if (prior !== undefined) reused.set(one, c);
    loaded.push(one);
    inputs.push(input);
  }
  // A reused stack has no positions to report a problem at: one that shares a name with another is parsed after all.
  const clashing = reused.size === 0 ? new Set<string>() : crossStackClashes(loaded);
  for (const [one, c] of reused) {
    if (one.name === undefined || !clashing.has(one.name)) continue;
    const [again, input] = load(c);
    const at = loaded.indexOf(one);
    loaded[at] = again;
    inputs[at] = input;
  }
  const byName = new Map<string, Loaded[]>();
  for (const l of loaded) {
    if (l.name === undefined) continue;
    byName.set(l.name, [...(byName.get(l.name) ?? []), l]);
  }
  const stacks: StackSpec[] = [];
  for (const [name, group] of [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (group.length > 1) {
      for (const l of group) {
        const others = group.filter((o) => o !== l).map((o) => o.fp.file);
        problems.errorAtPos(l.fp.file, l.namePos, '', `stack name ${JSON.stringify(name)} is also used by ${others.join(', ')}`, 'rename one of the files or directories, or give one a different `name:`');
      }
      continue;
    }
    const only = group[0];
    if (only?.spec !== undefined) stacks.push(only.spec);
  }
  const named = checkContainerNames(loaded.flatMap((l) => (l.spec === undefined ? [] : [{ spec: l.spec, fpOf: l.fpOf }])));
  const sorted = problems.sorted();
  return { stacks: stacks.filter((st) => !named.has(st.name)), inputs, errors: sorted.errors, warnings: sorted.warnings };
}

/** Names of the stacks in a duplicate stack name or a container-name clash, found without reporting (the real checks follow). */
function crossStackClashes(loaded: readonly Loaded[]): Set<string> {
  const count = new Map<string, number>();
  for (const l of loaded) if (l.name !== undefined) count.set(l.name, (count.get(l.name) ?? 0) + 1);
  const scratch = new Problems();
  const clashing = checkContainerNames(loaded.flatMap((l) => (l.spec === undefined ? [] : [{ spec: l.spec, fpOf: () => scratch.forFile(l.fp.file, undefined) }])));
  for (const [name, n] of count) if (n > 1) clashing.add(name);
  return clashing;
}

function loadOne(c: StackCandidate, files: ReadonlyMap<string, string>, opts: LoadOptions, env: Shared, policy: Policy, problems: Problems, dotenvs: Map<string, Dotenv>): Loaded {
  const errorsBefore = problems.errors.length;
  const parsed = parseYaml(files.get(c.file) ?? '', env.parse);
  const fp = problems.forFile(c.file, parsed.root);
  const fail = (): Loaded => ({ name: undefined, spec: undefined, fp, namePos: { line: 1, col: 1 } });
  for (const e of parsed.errors) problems.errorAtPos(c.file, e.pos, e.path, e.message);
  for (const w of parsed.warnings) problems.warnAtPos(c.file, w.pos, w.path, w.message);
  const root = parsed.root;
  if (root === undefined) {
    if (parsed.errors.length === 0) fp.error([], 'the file is empty', 'add a `services:` section, or delete the file to remove the stack');
    return fail();
  }
  if (root.kind !== 'map') {
    fp.error([], 'expected a mapping with `services:` at the top level');
    return fail();
  }
  const dotenv = c.envFile === undefined ? undefined : readDotenv(c.envFile, files, opts, problems, dotenvs, env.parse.maxBytes);
  let envBroken = (dotenv?.errors.length ?? 0) > 0;
  const main = readPart({ file: c.file, dir: c.dir, root, fp, vars: dotenv?.vars ?? {}, parse: env.parse }, files, opts, problems);

  const rawName = main.top?.name;
  const name = normalizeStackName(rawName ?? c.defaultName);
  const namePos = fp.pos(rawName === undefined ? [] : ['name']);
  if (name === '') {
    fp.error(rawName === undefined ? [] : ['name'], `stack name ${JSON.stringify(rawName ?? c.defaultName)} is empty once normalized`, 'use lowercase letters, digits, "-" or "_" in the file name or in `name:`');
    return fail();
  }
  if (main.top === undefined) return { name, spec: undefined, fp, namePos };
  const parts: Part[] = [main];
  envBroken = collectIncludes(main, [c.file], parts, files, opts, env, problems, dotenvs) || envBroken;
  const owner = new Map<string, Part>();
  for (const part of parts) {
    for (const svc of Object.keys(part.rawServices)) {
      const first = owner.get(svc);
      if (first === undefined) owner.set(svc, part);
      else part.fp.error(['services', svc], `service ${JSON.stringify(svc)} is also defined in ${first.file}`, 'rename one of them: an included file cannot redefine a service', 'key');
    }
  }
  checkSharedDeclarations(parts);
  const stackParts: StackPart[] = parts.filter((p): p is Part & { top: StackInput } => p.top !== undefined).map((p) => ({
    ctx: { name, file: p.file, dir: p.dir, files, lookup: p.lookup, fp: p.fp, all: problems, inactive: p.inactive, tree: env.tree, host: env.host, home: env.home, backend: env.backend, maxFileBytes: env.parse.maxBytes },
    top: p.top,
    services: new Map([...p.services].filter(([svc]) => owner.get(svc) === p)),
    rawServices: Object.fromEntries(Object.entries(p.rawServices).filter(([svc]) => owner.get(svc) === p && !p.inactive.has(svc))),
  }));
  const spec = normalizeStack(stackParts);
  const rawServices = Object.assign({}, ...stackParts.map((p) => p.rawServices)) as Record<string, unknown>;
  const fpOf = (svc: string): FileProblems => owner.get(svc)?.fp ?? fp;
  const fpOfDeclaration = (section: 'networks' | 'volumes', key: string): FileProblems => parts.find((p) => isRecord(p.data) && isRecord(p.data[section]) && Object.hasOwn(p.data[section], key))?.fp ?? fp;
  checkLimits({ stack: spec, rawServices, fpOfStack: fp, nameAt: rawName === undefined ? [] : ['name'], fpOfService: fpOf, fpOfDeclaration }, policy.limits);
  checkBaseline({ stack: spec, rawServices, fpOfService: fpOf, fpOfDeclaration, resolveHostPath: env.resolveHostPath }, policy);
  // A stack with any error is left out, so a half-valid stack never reaches the planner.
  // A broken shared .env reports its errors once, but taints every stack that reads it.
  const clean = problems.errors.length === errorsBefore && !envBroken;
  return { name, spec: clean ? deepFreeze(spec) : undefined, fp, namePos, fpOf };
}

/** What every stack of one load shares: the repository's paths and the operator-host files a manifest may name. */
interface Shared {
  tree: RepoTree;
  host: HostFiles;
  /** Top-level stack files: including one would run its services twice. */
  stackFiles: ReadonlySet<string>;
  resolveHostPath: (path: string) => string;
  /** Size and key limits of every YAML file read. */
  parse: ParseOptions;
  home: string | undefined;
  backend: LoadOptions['backend'];
}

/** One file of a stack, validated on its own terms: its positions, directory and variables. */
interface Part {
  file: string;
  dir: string;
  fp: FileProblems;
  lookup: Lookup;
  /** undefined when the top level is invalid. */
  top: StackInput | undefined;
  data: unknown;
  rawServices: Record<string, unknown>;
  services: Map<string, ServiceInput>;
  inactive: Map<string, readonly string[]>;
}

function readPart(src: { file: string; dir: string; root: YNode; fp: FileProblems; vars: Readonly<Record<string, string>>; parse: ParseOptions }, files: ReadonlyMap<string, string>, opts: LoadOptions, problems: Problems): Part {
  const { file, fp, root, vars } = src;
  // The operator's environment wins over a file's .env, as the shell wins in Compose.
  const lookup: Lookup = (n) => (Object.hasOwn(opts.env, n) ? opts.env[n] : Object.hasOwn(vars, n) ? vars[n] : undefined);
  const interp = interpolateTree(root, lookup);
  for (const e of interp.errors) problems.errorAtPos(file, e.pos, e.path, e.message, 'set the variable in the stack\'s .env or the operator\'s environment');
  for (const w of interp.warnings) problems.warnAtPos(file, w.pos, w.path, w.message);

  const data = toPlain(root);
  reportKeys(checkKeys(stackSchema, data), fp);
  const top = stackSchema.safeParse(data);
  if (!top.success) reportZodIssues(top.error.issues, [], data, fp);
  if (root.kind === 'map' && root.entries.has('version')) fp.warn(['version'], '`version` is obsolete and ignored', 'key');

  // Read service names from the plain data: a zod record output would turn a `__proto__` key into a prototype.
  const plainServices = isRecord(data) ? data['services'] : undefined;
  const declared: Record<string, unknown> = top.success && isRecord(plainServices) ? plainServices : {};
  const rawServices = resolveExtends(declared, { dir: src.dir, file, files, lookup, fp, all: problems, parse: src.parse });
  const services = new Map<string, ServiceInput>();
  const active = new Set(opts.profiles ?? []);
  const inactive = new Map<string, readonly string[]>();
  for (const [name, raw] of Object.entries(rawServices)) {
    const base = ['services', name];
    if (!SERVICE_NAME.test(name)) fp.error(base, `invalid service name ${JSON.stringify(name)}`, 'use letters, digits, "_", "." or "-", starting with a letter or digit', 'key');
    reportKeys(checkKeys(serviceSchema, raw, base), fp);
    const r = serviceSchema.safeParse(raw);
    if (!r.success) reportZodIssues(r.error.issues, base, data, fp);
    // As in Compose, a service in profiles is still validated, but runs only when one of its profiles is active.
    else if ((r.data.profiles ?? []).length > 0 && !active.has('*') && !(r.data.profiles ?? []).some((p) => active.has(p))) inactive.set(name, r.data.profiles ?? []);
    else services.set(name, r.data);
  }
  return { file, dir: src.dir, fp, lookup, top: top.success ? top.data : undefined, data, rawServices, services, inactive };
}

/** Depth of nested includes; deeper is surely a mistake (cycles are reported on their own). */
const MAX_INCLUDE_DEPTH = 16;

/**
 * Compose's top-level `include:`: each file's services, networks, volumes,
 * secrets and configs join the stack. Paths are relative to the including
 * file; an included file resolves its own relative paths against its
 * `project_directory` (default: its own directory) and reads its own `.env`.
 * Returns whether an env file of an included part was broken.
 */
function collectIncludes(part: Part, chain: readonly string[], out: Part[], files: ReadonlyMap<string, string>, opts: LoadOptions, env: Shared, problems: Problems, dotenvs: Map<string, Dotenv>): boolean {
  let envBroken = false;
  (part.top?.include ?? []).forEach((item, i) => {
    const at: PathSegment[] = ['include', i];
    const long = typeof item === 'string' ? { path: item, project_directory: undefined, env_file: undefined } : item;
    const paths = typeof long.path === 'string' ? [long.path] : long.path;
    if (paths.length > 1) {
      part.fp.error([...at, 'path'], 'including several files merged into one (a list under `path`) is not supported yet', 'include each file on its own line; a service defined in two of them is an error');
      return;
    }
    const rel = paths[0] ?? '';
    const file = rel.startsWith('/') ? undefined : resolveInRepo(part.dir, rel);
    if (file === undefined) {
      part.fp.error(typeof item === 'string' ? at : [...at, 'path'], `included file ${JSON.stringify(rel)} points outside the repository`, 'use a path relative to the including file, inside the stacks directory');
      return;
    }
    const text = files.get(file);
    if (text === undefined) {
      part.fp.error(typeof item === 'string' ? at : [...at, 'path'], `included file ${JSON.stringify(rel)} not found (looked for ${file})`, 'keep included files inside the stacks directory');
      return;
    }
    if (env.stackFiles.has(file)) {
      part.fp.error(typeof item === 'string' ? at : [...at, 'path'], `included file ${file} is a stack of its own, so its services would run twice`, 'move it into a subdirectory without a compose.yaml (e.g. stacks/lib/), or stop including it');
      return;
    }
    if (chain.includes(file) || chain.length >= MAX_INCLUDE_DEPTH) {
      part.fp.error(typeof item === 'string' ? at : [...at, 'path'], `include cycle: ${[...chain, file].join(' → ')}`, 'remove one of the includes');
      return;
    }
    const projectDir = long.project_directory === undefined ? posix.dirname(file) : resolveInRepo(part.dir, long.project_directory);
    if (projectDir === undefined) {
      part.fp.error([...at, 'project_directory'], `project_directory ${JSON.stringify(long.project_directory)} points outside the repository`);
      return;
    }
    const dir = projectDir === '.' ? '' : projectDir;
    const envFiles = long.env_file === undefined ? [posix.join(projectDir, '.env')].filter((f) => files.has(f)) : (typeof long.env_file === 'string' ? [long.env_file] : long.env_file).map((e) => resolveInRepo(part.dir, e) ?? '');
    const vars: Record<string, string> = {};
    for (const [j, envFile] of envFiles.entries()) {
      if (!files.has(envFile)) {
        part.fp.error(typeof long.env_file === 'string' ? [...at, 'env_file'] : [...at, 'env_file', j], `env_file not found (looked for ${envFile || JSON.stringify(long.env_file)})`, 'add the file to the repository, or fix the path (it is relative to the including file)');
        continue;
      }
      const parsed = readDotenv(envFile, files, opts, problems, dotenvs, env.parse.maxBytes);
      envBroken ||= parsed.errors.length > 0;
      Object.assign(vars, parsed.vars);
    }
    const yaml = parseYaml(text, env.parse);
    const fp = problems.forFile(file, yaml.root);
    for (const e of yaml.errors) problems.errorAtPos(file, e.pos, e.path, e.message);
    for (const w of yaml.warnings) problems.warnAtPos(file, w.pos, w.path, w.message);
    if (yaml.root === undefined || yaml.root.kind !== 'map') {
      if (yaml.errors.length === 0) fp.error([], 'an included file must be a mapping with `services:` (or networks, volumes, secrets, configs)');
      return;
    }
    const included = readPart({ file, dir, root: yaml.root, fp, vars, parse: env.parse }, files, opts, problems);
    out.push(included);
    envBroken = collectIncludes(included, [...chain, file], out, files, opts, env, problems, dotenvs) || envBroken;
  });
  return envBroken;
}

/** A network, volume, secret or config declared by several files of a stack must be declared the same way. */
function checkSharedDeclarations(parts: readonly Part[]): void {
  for (const section of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    const first = new Map<string, { part: Part; text: string }>();
    for (const part of parts) {
      const declared = isRecord(part.data) ? part.data[section] : undefined;
      if (!isRecord(declared)) continue;
      for (const [k, v] of Object.entries(declared)) {
        const text = JSON.stringify(v ?? {});
        const seen = first.get(k);
        if (seen === undefined) first.set(k, { part, text });
        else if (seen.text !== text) part.fp.error([section, k], `${section.slice(0, -1)} ${JSON.stringify(k)} is declared differently in ${seen.part.file}`, 'declare it once, or the same way in both files', 'key');
      }
    }
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function reportKeys(list: ReturnType<typeof checkKeys>, fp: FileProblems): void {
  for (const k of list) fp.error(k.path, k.message, k.hint, 'key');
}

function readDotenv(path: string, files: ReadonlyMap<string, string>, opts: LoadOptions, problems: Problems, cache: Map<string, Dotenv>, maxBytes: number | undefined): Dotenv {
  // Read even when cached: the read is what makes this stack depend on the file.
  const read = files.get(path);
  const hit = cache.get(path);
  if (hit !== undefined) return hit;
  const text = read ?? '';
  const tooBig = oversized(text, maxBytes);
  if (tooBig !== undefined) {
    const refused: Dotenv = { vars: {}, errors: [{ line: 1, col: 1, message: tooBig }] };
    problems.errorAtPos(path, { line: 1, col: 1 }, '', tooBig);
    cache.set(path, refused);
    return refused;
  }
  const parsed = parseDotenv(text, (n) => (Object.hasOwn(opts.env, n) ? opts.env[n] : undefined));
  for (const e of parsed.errors) problems.errorAtPos(path, { line: e.line, col: e.col }, '', e.message);
  cache.set(path, parsed);
  return parsed;
}
