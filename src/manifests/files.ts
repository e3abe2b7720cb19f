// Secrets and configs (Compose's top-level `secrets:` / `configs:` and the
// services' references to them) for the docker engine backend: where each
// content comes from, where it lands in the container, and a digest that
// changes with the content so a rotation rolls the services using it. The
// content itself is never read here: repository files are fingerprinted by
// their Git blob id, host files by the digests the caller passes in.

import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { FileSource, MountedFile } from './model.js';
import { resolveInRepo } from './paths.js';
import type { Lookup } from './interpolate.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';
import type { RepoTree } from './repo-tree.js';
import type { FileDefInput, FileRefInput } from './schema.js';

export type FileKind = 'secret' | 'config';

/** Operator-host files a manifest may name (Compose's absolute `file:`): only those under one directory. */
export interface HostFiles {
  /** Absolute directory (--secrets-dir); undefined: no host file may be used. */
  dir: string | undefined;
  /** Absolute path → content digest of every file under `dir`. */
  digests: ReadonlyMap<string, string>;
}

export const NO_HOST_FILES: HostFiles = { dir: undefined, digests: new Map() };

/** Where a declaration was written: relative `file:` paths resolve against its directory. */
export interface DeclaringFile {
  dir: string;
  fp: FileProblems;
}

export interface ResolvedDef {
  source: FileSource;
  digest: string;
}

interface Env {
  tree: RepoTree;
  lookup: Lookup;
  host: HostFiles;
}

/** sha256 prefix of a value that must not be shown; enough to tell one version from the next. */
export function contentDigest(content: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(content).digest('hex').slice(0, 16)}`;
}

function encryptionOf(path: string): 'age' | undefined {
  return path.endsWith('.age') ? 'age' : undefined;
}

/** One top-level definition → its source, or undefined after reporting why it cannot be used. */
export function resolveFileDef(kind: FileKind, name: string, def: FileDefInput | null, where: DeclaringFile, env: Env): ResolvedDef | undefined {
  const at: PathSegment[] = [`${kind}s`, name];
  const fp = where.fp;
  if (def?.external !== undefined && def.external !== false) {
    fp.error([...at, 'external'], `external ${kind}s are not supported on the docker engine backend`, `they live in Swarm's ${kind} store; declare the ${kind} with \`file:\` or \`environment:\` instead`, 'key');
    return undefined;
  }
  if (def?.name !== undefined) fp.warn([...at, 'name'], `\`name\` is the ${kind}'s name in Swarm's store; the docker engine backend ignores it`, 'key');
  const given = (['file', 'environment', 'content'] as const).filter((k) => def?.[k] !== undefined);
  if (given.length !== 1) {
    const which = kind === 'secret' ? '`file:` or `environment:`' : '`file:`, `environment:` or `content:`';
    fp.error(at, given.length === 0 ? `${kind} ${JSON.stringify(name)} needs a source: ${which}` : `${kind} ${JSON.stringify(name)} has more than one source (${given.join(', ')})`, `give exactly one of ${which}`, 'key');
    return undefined;
  }
  if (def?.content !== undefined) return { source: { kind: 'content', content: def.content }, digest: contentDigest(def.content) };
  if (def?.environment !== undefined) {
    const value = env.lookup(def.environment);
    if (value === undefined) {
      fp.error([...at, 'environment'], `${kind} ${JSON.stringify(name)} reads the environment variable ${def.environment}, which is not set or not allowed`, `set ${def.environment} in the operator's environment and allow it with --allow-env (CAPSTAN_ALLOW_ENV)`);
      return undefined;
    }
    return { source: { kind: 'env', variable: def.environment }, digest: contentDigest(value) };
  }
  const file = def?.file ?? '';
  if (file.endsWith('.enc')) {
    fp.error([...at, 'file'], `${kind} file ${JSON.stringify(file)} looks SOPS-encrypted, which Capstan does not decrypt`, 'encrypt the plain file with age instead: `capstan secret encrypt --recipient age1... FILE` writes FILE.age; point `file:` at it');
    return undefined;
  }
  if (file.startsWith('/')) return hostFile(kind, name, file, at, fp, env.host);
  if (file.startsWith('~')) {
    fp.error([...at, 'file'], `"~" in ${JSON.stringify(file)} is not supported`, 'use a path relative to the stack file, or an absolute path under --secrets-dir');
    return undefined;
  }
  const path = resolveInRepo(where.dir, file);
  if (path === undefined) {
    fp.error([...at, 'file'], `${kind} file ${JSON.stringify(file)} points outside the repository`, 'keep it in the repository (encrypted with age), or on the operator host under --secrets-dir with an absolute path');
    return undefined;
  }
  const entry = env.tree.get(path);
  if (entry?.type !== 'blob') {
    fp.error([...at, 'file'], `${kind} file ${JSON.stringify(file)} not found at the commit (looked for ${path})`, 'commit the file, or fix the path (it is relative to the stack file)');
    return undefined;
  }
  const encryption = encryptionOf(path);
  if (kind === 'secret' && encryption === undefined) {
    fp.warn([...at, 'file'], `secret ${JSON.stringify(name)} is a plain file in the repository: whoever can read the repository can read it; encrypt it with \`capstan secret encrypt ${posix.basename(path)}\` and point \`file:\` at the .age file`);
  }
  return { source: { kind: 'repo', path, encryption }, digest: entry.id };
}

function hostFile(kind: FileKind, name: string, file: string, at: PathSegment[], fp: FileProblems, host: HostFiles): ResolvedDef | undefined {
  const path = posix.normalize(file);
  if (host.dir === undefined) {
    fp.error([...at, 'file'], `${kind} ${JSON.stringify(name)} reads ${path} from the operator host, which is off by default`, 'a Git push must not read arbitrary host files: put the file under a directory and start Capstan with --secrets-dir DIR (CAPSTAN_SECRETS_DIR)');
    return undefined;
  }
  const dir = posix.normalize(host.dir).replace(/\/+$/, '');
  if (!path.startsWith(`${dir}/`)) {
    fp.error([...at, 'file'], `${kind} file ${path} is outside --secrets-dir ${dir}`, `move it under ${dir}, or use a file of the repository`);
    return undefined;
  }
  const digest = host.digests.get(path);
  if (digest === undefined) {
    fp.error([...at, 'file'], `${kind} file ${path} does not exist on the operator host`, `create it (readable by Capstan) under ${dir}`);
    return undefined;
  }
  return { source: { kind: 'host', path, encryption: encryptionOf(path) }, digest };
}

/** A service's references → files in the container; undeclared names and clashing targets are reported at the reference. */
export function serviceFiles(
  kind: FileKind,
  refs: readonly FileRefInput[],
  defs: ReadonlyMap<string, ResolvedDef | undefined>,
  base: PathSegment[],
  fp: FileProblems,
  taken: Set<string>,
): MountedFile[] {
  const out: MountedFile[] = [];
  refs.forEach((ref, i) => {
    const at: PathSegment[] = [...base, `${kind}s`, i];
    if (!defs.has(ref.source)) {
      const known = [...defs.keys()].sort();
      fp.error(at, `${kind} ${JSON.stringify(ref.source)} is not declared in the top-level \`${kind}s:\``, known.length > 0 ? `declared: ${known.join(', ')}` : `add \`${kind}s: { ${ref.source}: { file: ./${ref.source}.txt } }\` at the top level of the file`);
      return;
    }
    const def = defs.get(ref.source);
    if (def === undefined) return; // reported at the declaration
    const target = targetOf(kind, ref.source, ref.target);
    if (target === undefined) {
      fp.error([...at, 'target'], `target ${JSON.stringify(ref.target)} leaves the container's file system`, 'use an absolute path, or a name without ".."');
      return;
    }
    if (taken.has(target)) {
      fp.error(at, `${target} is already the target of another secret or config of this service`, 'give one of them another `target:`');
      return;
    }
    taken.add(target);
    out.push({ name: ref.source, target, uid: ref.uid ?? 0, gid: ref.gid ?? 0, mode: ref.mode ?? 0o444, source: def.source, digest: def.digest });
  });
  return out;
}

/** Compose's defaults: secrets under /run/secrets/, configs at /<name>; a relative target is below those. */
function targetOf(kind: FileKind, name: string, target: string | undefined): string | undefined {
  if (target !== undefined && target.split('/').includes('..')) return undefined;
  const base = kind === 'secret' ? '/run/secrets' : '/';
  const path = target === undefined ? posix.join(base, name) : target.startsWith('/') ? posix.normalize(target) : posix.join(base, target);
  return path === '/' || path.endsWith('/') ? undefined : path;
}
