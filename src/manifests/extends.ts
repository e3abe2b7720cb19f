// Compose `extends`: a service starts from another service of the same file
// or of another file in the stacks directory, then its own keys win. Runs on
// plain data after interpolation, before validation, so the merged service is
// checked like any other. Pure: other files come from the files map.

import { posix } from 'node:path';
import type { Lookup } from './interpolate.js';
import { interpolateTree } from './interpolate.js';
import { resolveInRepo } from './paths.js';
import type { ParseOptions, PathSegment } from './parse-yaml.js';
import { parseYaml, toPlain } from './parse-yaml.js';
import type { FileProblems, Problems } from './problems.js';
import { setOwn } from './own.js';

type Obj = Record<string, unknown>;
const isRecord = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys whose list and map forms mean the same "name → value" mapping; merged per name. */
const KEY_VALUE = new Set(['environment', 'labels', 'sysctls', 'annotations']);
/** Keys whose list form is a list of names; merged per name. */
const NAME_MAPS = new Set(['depends_on', 'networks']);
/** Top-level service lists that Compose appends (volumes by container path, below). */
const APPENDED = new Set(['ports', 'expose', 'dns', 'cap_add', 'cap_drop', 'devices', 'security_opt', 'env_file', 'extra_hosts', 'tmpfs', 'profiles', 'secrets', 'configs']);
const MAX_DEPTH = 16;

export interface ExtendsContext {
  /** Directory of the file being loaded, repo-relative. */
  dir: string;
  file: string;
  files: ReadonlyMap<string, string>;
  lookup: Lookup;
  fp: FileProblems;
  all: Problems;
  /** Size and key limits for the files it reads. */
  parse?: ParseOptions;
}

interface Source {
  file: string;
  dir: string;
  services: Obj;
}

/** Every service with `extends` replaced by the merged result; a broken reference is reported and the service dropped from the result. */
export function resolveExtends(services: Obj, ctx: ExtendsContext): Obj {
  if (!Object.values(services).some((s) => isRecord(s) && Object.hasOwn(s, 'extends'))) return services;
  const loaded = new Map<string, Source | undefined>([[ctx.file, { file: ctx.file, dir: ctx.dir, services }]]);
  const out: Obj = {};
  for (const [name, svc] of Object.entries(services)) {
    const merged = resolve({ file: ctx.file, dir: ctx.dir, services }, name, svc, ['services', name], ctx, loaded, []);
    if (merged !== undefined) setOwn(out, name, merged);
  }
  return out;
}

function resolve(src: Source, name: string, svc: unknown, at: PathSegment[], ctx: ExtendsContext, loaded: Map<string, Source | undefined>, chain: string[]): unknown {
  if (!isRecord(svc) || !Object.hasOwn(svc, 'extends')) return svc;
  const id = `${src.file}#${name}`;
  const report = (message: string, hint?: string): undefined => {
    // Positions exist only in the file being loaded: a problem deeper in a chain points at its first `extends`.
    ctx.fp.error([...at, 'extends'], message, hint);
    return undefined;
  };
  if (chain.includes(id) || chain.length >= MAX_DEPTH) return report(`extends cycle: ${[...chain, id].join(' → ')}`, 'remove one of the `extends`');
  const ext = svc['extends'];
  const ref = typeof ext === 'string' ? { service: ext, file: undefined } : isRecord(ext) && typeof ext['service'] === 'string' ? { service: ext['service'], file: ext['file'] } : undefined;
  if (ref === undefined) return report('expected `extends: <service>` or `extends: { service, file }`');
  let base: Source | undefined = src;
  if (ref.file !== undefined) {
    if (typeof ref.file !== 'string') return report('`extends.file` must be a path');
    const path = resolveInRepo(src.dir, ref.file);
    if (path === undefined) return report(`extends file ${JSON.stringify(ref.file)} points outside the repository`);
    base = loadSource(path, ctx, loaded);
    if (base === undefined) return report(`extends file ${JSON.stringify(ref.file)} not found (looked for ${path})`, 'keep extended files inside the stacks directory');
  }
  const parent = base.services[ref.service];
  if (!isRecord(parent)) return report(`extends unknown service ${JSON.stringify(ref.service)}${ref.file === undefined ? '' : ` in ${ref.file}`}`, `services there: ${Object.keys(base.services).sort().join(', ')}`);
  const resolvedParent = resolve(base, ref.service, parent, at, ctx, loaded, [...chain, id]);
  if (!isRecord(resolvedParent)) return undefined;
  const rebased = base.dir === src.dir ? resolvedParent : rebase(resolvedParent, base.dir, src.dir);
  const { extends: _ext, ...own } = svc;
  return mergeService(rebased, own);
}

function loadSource(path: string, ctx: ExtendsContext, loaded: Map<string, Source | undefined>): Source | undefined {
  if (loaded.has(path)) return loaded.get(path);
  const text = ctx.files.get(path);
  let src: Source | undefined;
  if (text !== undefined) {
    const parsed = parseYaml(text, ctx.parse);
    for (const e of parsed.errors) ctx.all.errorAtPos(path, e.pos, e.path, e.message);
    let services: Obj = {};
    if (parsed.root !== undefined) {
      for (const e of interpolateTree(parsed.root, ctx.lookup).errors) ctx.all.errorAtPos(path, e.pos, e.path, e.message);
      const data = toPlain(parsed.root);
      if (isRecord(data) && isRecord(data['services'])) services = data['services'];
    }
    src = { file: path, dir: posix.dirname(path) === '.' ? '' : posix.dirname(path), services };
  }
  loaded.set(path, src);
  return src;
}

/** Relative bind sources and env files of a service from another directory, made relative to `toDir`, as Compose resolves them against the file that declares them. */
function rebase(svc: Obj, fromDir: string, toDir: string): Obj {
  const move = (p: string): string => {
    if (!p.startsWith('.')) return p;
    const rel = posix.relative(toDir === '' ? '.' : toDir, posix.join(fromDir === '' ? '.' : fromDir, p));
    return rel.startsWith('.') ? rel : `./${rel}`;
  };
  const out: Obj = { ...svc };
  if (Array.isArray(svc['volumes'])) {
    out['volumes'] = svc['volumes'].map((v: unknown) => {
      if (typeof v === 'string') {
        const i = v.indexOf(':');
        return i > 0 && v.startsWith('.') ? move(v.slice(0, i)) + v.slice(i) : v;
      }
      return isRecord(v) && typeof v['source'] === 'string' && v['type'] === 'bind' && !v['source'].startsWith('/') ? { ...v, source: move(v['source'].startsWith('.') ? v['source'] : `./${v['source']}`) } : v;
    });
  }
  const envFile = svc['env_file'];
  const moveEnv = (e: unknown): unknown => (typeof e === 'string' ? move(e.startsWith('.') ? e : `./${e}`) : isRecord(e) && typeof e['path'] === 'string' ? { ...e, path: move(e['path'].startsWith('.') ? e['path'] : `./${e['path']}`) } : e);
  if (typeof envFile === 'string' || isRecord(envFile)) out['env_file'] = [moveEnv(envFile)];
  else if (Array.isArray(envFile)) out['env_file'] = envFile.map(moveEnv);
  return out;
}

function asMap(key: string, v: unknown): Obj | undefined {
  if (isRecord(v)) return v;
  if (!Array.isArray(v)) return undefined;
  const out: Obj = {};
  for (const item of v) {
    if (typeof item !== 'string') return undefined;
    if (KEY_VALUE.has(key)) {
      const eq = item.indexOf('=');
      setOwn(out, eq < 0 ? item : item.slice(0, eq), eq < 0 ? null : item.slice(eq + 1));
    } else setOwn(out, item, null);
  }
  return out;
}

const volumeTarget = (v: unknown): unknown => (typeof v === 'string' ? v.split(':')[1] : isRecord(v) ? v['target'] : undefined);

/** Compose's merge: mappings per key (own wins, recursively), listed keys appended, anything else replaced. */
function mergeService(base: Obj, own: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(own)) {
    const b = base[k];
    if (!Object.hasOwn(base, k) || b === null || v === null) setOwn(out, k, v);
    else if (KEY_VALUE.has(k) || NAME_MAPS.has(k)) {
      const bm = asMap(k, b);
      const vm = asMap(k, v);
      setOwn(out, k, bm !== undefined && vm !== undefined ? { ...bm, ...vm } : v);
    } else if (k === 'volumes' && Array.isArray(b) && Array.isArray(v)) {
      const targets = new Set(v.map(volumeTarget));
      setOwn(out, k, [...b.filter((x) => !targets.has(volumeTarget(x))), ...v]);
    } else if (APPENDED.has(k) && Array.isArray(b) && Array.isArray(v)) {
      const seen = new Set(v.map((x) => JSON.stringify(x)));
      setOwn(out, k, [...b.filter((x) => !seen.has(JSON.stringify(x))), ...v]);
    } else if (isRecord(b) && isRecord(v)) setOwn(out, k, deepMerge(b, v));
    else setOwn(out, k, v);
  }
  return out;
}

function deepMerge(base: Obj, own: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(own)) {
    const b = base[k];
    setOwn(out, k, isRecord(b) && isRecord(v) ? deepMerge(b, v) : v);
  }
  return out;
}
