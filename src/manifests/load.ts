// Orchestrates one load of every stack under the root: discover → parse YAML
// → interpolate → check keys and types (zod) → normalize → freeze. Collects
// every problem of every file; never throws for bad input. Pure: all file
// contents and the operator's environment arrive as data.

import type { ValidationError } from '../errors.js';
import { discoverStacks, normalizeStackName } from './discover.js';
import type { StackCandidate } from './discover.js';
import { parseDotenv } from './dotenv.js';
import type { Dotenv } from './dotenv.js';
import { deepFreeze } from './freeze.js';
import { interpolateTree } from './interpolate.js';
import type { Lookup } from './interpolate.js';
import { resolveExtends } from './extends.js';
import { checkKeys } from './keys.js';
import type { ManifestWarning, StackSpec } from './model.js';
import { normalizeStack } from './normalize.js';
import { parseYaml, toPlain } from './parse-yaml.js';
import { NO_EXCEPTIONS, checkPolicy, parsePolicy } from './policy.js';
import type { Policy } from './policy.js';
import type { Pos } from './parse-yaml.js';
import { Problems } from './problems.js';
import type { FileProblems } from './problems.js';
import { serviceSchema, stackSchema } from './schema.js';
import type { ServiceInput } from './schema.js';
import { reportZodIssues } from './zod-issues.js';

export interface LoadOptions {
  /** The stacks directory relative to the repo root, e.g. 'stacks' (DESIGN --path). '' or '.' means the root. */
  root: string;
  /** The operator's environment allowed for interpolation; it wins over a stack's `.env`, as the shell wins in Compose. */
  env: Readonly<Record<string, string>>;
  /** The repository's capstan.yaml (its `policy:` allows exceptions to the baseline); absent means the baseline alone. */
  policyFile?: { path: string; text: string } | undefined;
  /** Active Compose profiles; "*" activates all. A service with `profiles:` is left out unless one of them is active. */
  profiles?: readonly string[] | undefined;
}

export interface LoadResult {
  /** Stacks without errors, sorted by name. */
  stacks: StackSpec[];
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
}

/** files: every file under `root`, keyed by repo-relative POSIX path ('stacks/web.yaml' -> content). Pure. */
export function loadStacks(files: ReadonlyMap<string, string>, opts: LoadOptions): LoadResult {
  const problems = new Problems();
  const dotenvs = new Map<string, Dotenv>();
  const policy = opts.policyFile === undefined ? NO_EXCEPTIONS : parsePolicy(opts.policyFile.path, opts.policyFile.text, problems);
  const loaded: Loaded[] = [];
  for (const c of discoverStacks(files.keys(), opts.root)) {
    loaded.push(loadOne(c, files, opts, policy, problems, dotenvs));
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
  const sorted = problems.sorted();
  return { stacks, errors: sorted.errors, warnings: sorted.warnings };
}

function loadOne(c: StackCandidate, files: ReadonlyMap<string, string>, opts: LoadOptions, policy: Policy, problems: Problems, dotenvs: Map<string, Dotenv>): Loaded {
  const errorsBefore = problems.errors.length;
  const text = files.get(c.file) ?? '';
  const parsed = parseYaml(text);
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

  const env = c.envFile === undefined ? undefined : readDotenv(c.envFile, files, opts, problems, dotenvs);
  const dotenv = env?.vars ?? {};
  const lookup: Lookup = (name) => (Object.hasOwn(opts.env, name) ? opts.env[name] : Object.hasOwn(dotenv, name) ? dotenv[name] : undefined);
  const interp = interpolateTree(root, lookup);
  for (const e of interp.errors) problems.errorAtPos(c.file, e.pos, e.path, e.message, 'set the variable in the stack\'s .env or the operator\'s environment');
  for (const w of interp.warnings) problems.warnAtPos(c.file, w.pos, w.path, w.message);

  const data = toPlain(root);
  reportKeys(checkKeys(stackSchema, data), fp);
  const top = stackSchema.safeParse(data);
  if (!top.success) reportZodIssues(top.error.issues, [], data, fp);
  if (root.entries.has('version')) fp.warn(['version'], '`version` is obsolete and ignored', 'key');

  // Read service names from the plain data: a zod record output would turn a `__proto__` key into a prototype.
  const plainServices = isRecord(data) ? data['services'] : undefined;
  const declared: Record<string, unknown> = top.success && isRecord(plainServices) ? plainServices : {};
  const rawServices = resolveExtends(declared, { dir: c.dir, file: c.file, files, lookup, fp, all: problems });
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

  const rawName = top.success ? top.data.name : undefined;
  const name = normalizeStackName(rawName ?? c.defaultName);
  const namePos = fp.pos(rawName === undefined ? [] : ['name']);
  if (name === '') {
    fp.error(rawName === undefined ? [] : ['name'], `stack name ${JSON.stringify(rawName ?? c.defaultName)} is empty once normalized`, 'use lowercase letters, digits, "-" or "_" in the file name or in `name:`');
    return fail();
  }
  if (!top.success) return { name, spec: undefined, fp, namePos };
  const activeRaw = Object.fromEntries(Object.entries(rawServices).filter(([n]) => !inactive.has(n)));
  const spec = normalizeStack({ name, file: c.file, dir: c.dir, files, lookup, fp, all: problems, inactive }, top.data, services, activeRaw);
  checkPolicy(spec, rawServices, policy, fp);
  // A stack with any error is left out, so a half-valid stack never reaches the planner.
  // A broken shared .env reports its errors once, but taints every stack that reads it.
  const clean = problems.errors.length === errorsBefore && (env?.errors.length ?? 0) === 0;
  return { name, spec: clean ? deepFreeze(spec) : undefined, fp, namePos };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function reportKeys(list: ReturnType<typeof checkKeys>, fp: FileProblems): void {
  for (const k of list) fp.error(k.path, k.message, k.hint, 'key');
}

function readDotenv(path: string, files: ReadonlyMap<string, string>, opts: LoadOptions, problems: Problems, cache: Map<string, Dotenv>): Dotenv {
  const hit = cache.get(path);
  if (hit !== undefined) return hit;
  const parsed = parseDotenv(files.get(path) ?? '', (n) => (Object.hasOwn(opts.env, n) ? opts.env[n] : undefined));
  for (const e of parsed.errors) problems.errorAtPos(path, { line: e.line, col: e.col }, '', e.message);
  cache.set(path, parsed);
  return parsed;
}
