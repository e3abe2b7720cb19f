// `build:` resolved against the repository at the commit: the context must
// be a directory of the repository and the Dockerfile a file in it. The image
// is named by what goes into it — the Git ids of the context tree and the
// Dockerfile, the inline Dockerfile, args, target and labels — so an unchanged
// context keeps its tag (never rebuilt) and a changed one gets a new tag
// (always built, and the service rolls because its spec changed).

import { createHash } from 'node:crypto';
import type { BuildSpec } from './model.js';
import { resolveInRepo } from './paths.js';
import type { Lookup } from './interpolate.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';
import type { RepoTree } from './repo-tree.js';
import type { BuildInput } from './schema.js';
import { setOwn } from './own.js';

export interface BuildContext {
  stack: string;
  /** Directory of the file declaring the service ('' = repository root). */
  dir: string;
  tree: RepoTree;
  lookup: Lookup;
  fp: FileProblems;
}

/** The image repository Compose would use: `<stack>-<service>`, lowercased to a valid Docker name. */
export function builtImageRepo(stack: string, service: string): string {
  return `${stack}-${service}`
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/([._-])[._-]+/g, '$1')
    .replace(/[._-]+$/, '');
}

const REMOTE = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/;

export function normalizeBuild(ctx: BuildContext, service: string, input: BuildInput, image: string | undefined, base: PathSegment[]): { image: string; build: BuildSpec } | undefined {
  const long = typeof input === 'string' ? { context: input } : input;
  const at = (key: string): PathSegment[] => (typeof input === 'string' ? [...base, 'build'] : [...base, 'build', key]);
  const context = long.context ?? '.';
  if (REMOTE.test(context)) {
    ctx.fp.error(at('context'), `remote build context ${JSON.stringify(context)} is not supported`, 'build from a directory of this repository (relative to the stack file), or build and push the image yourself and set `image:`');
    return undefined;
  }
  if (context.startsWith('/')) {
    ctx.fp.error(at('context'), `build context ${JSON.stringify(context)} is an absolute path`, 'use a path relative to the stack file: builds read the repository at the deployed commit, not the operator host');
    return undefined;
  }
  const contextDir = resolveInRepo(ctx.dir, context);
  if (contextDir === undefined) {
    ctx.fp.error(at('context'), `build context ${JSON.stringify(context)} points outside the repository`, 'keep build contexts inside the repository');
    return undefined;
  }
  const contextEntry = ctx.tree.get(contextDir);
  if (contextEntry?.type !== 'tree') {
    ctx.fp.error(at('context'), `build context ${JSON.stringify(context)} is not a directory of the repository (looked for ${contextDir})`, 'commit the directory, or fix the path (it is relative to the stack file)');
    return undefined;
  }
  const inline = typeof input === 'string' ? undefined : input.dockerfile_inline;
  let dockerfile: string | undefined;
  let dockerfileId: string | undefined;
  if (inline !== undefined) {
    if (long.dockerfile !== undefined) {
      ctx.fp.error(at('dockerfile'), '`dockerfile` and `dockerfile_inline` cannot be used together', 'remove one of them', 'key');
      return undefined;
    }
  } else {
    const rel = long.dockerfile ?? 'Dockerfile';
    const path = rel.startsWith('/') ? undefined : resolveInRepo(contextDir, rel);
    if (path === undefined) {
      ctx.fp.error(at('dockerfile'), `dockerfile ${JSON.stringify(rel)} must be a path inside the repository, relative to the build context`);
      return undefined;
    }
    const entry = ctx.tree.get(path);
    if (entry?.type !== 'blob') {
      ctx.fp.error(typeof input === 'string' || long.dockerfile === undefined ? at('context') : at('dockerfile'), `Dockerfile not found at the commit (looked for ${path})`, long.dockerfile === undefined ? 'add a Dockerfile to the context, or name it with `dockerfile:`' : 'fix the path: it is relative to the build context');
      return undefined;
    }
    dockerfile = path;
    dockerfileId = entry.id;
  }
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries((typeof input === 'string' ? undefined : input.args) ?? {})) {
    // A bare name takes its value from the environment; unset, it is left out (the Dockerfile's ARG default applies).
    const value = v ?? ctx.lookup(k);
    if (value !== undefined) setOwn(args, k, value);
  }
  const labels = (typeof input === 'string' ? undefined : input.labels) ?? {};
  const target = typeof input === 'string' ? undefined : input.target;
  const sorted = (o: Readonly<Record<string, string>>): [string, string][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const tag = createHash('sha256')
    .update(JSON.stringify([contextEntry.id, dockerfile === undefined ? null : dockerfile.slice(contextDir === '.' ? 0 : contextDir.length + 1), dockerfileId ?? null, inline ?? null, sorted(args), target ?? null, sorted(labels)]))
    .digest('hex')
    .slice(0, 12);
  return {
    image: `${builtImageRepo(ctx.stack, service)}:${tag}`,
    build: { context: contextDir, dockerfile, dockerfileInline: inline, args, target, labels, contextId: contextEntry.id, dockerfileId, alsoTag: image },
  };
}
