// Finds the stacks under the configured root (DESIGN §2): each top-level
// *.yaml|*.yml file, and each direct subdirectory holding a compose file.
// Works on the list of paths only; the contents are read by the caller.

export interface StackCandidate {
  /** Repo-relative POSIX path of the compose file. */
  file: string;
  /** Name before any `name:` override and before normalization. */
  defaultName: string;
  /** Directory that relative paths in the file resolve against ('' for the repo root). */
  dir: string;
  /** The `.env` that feeds interpolation, if present. */
  envFile: string | undefined;
}

const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export function normalizeRoot(root: string): string {
  let r = root.replace(/\\/g, '/').replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (r === '.') r = '';
  return r;
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

export function discoverStacks(paths: Iterable<string>, rootIn: string): StackCandidate[] {
  const root = normalizeRoot(rootIn);
  const prefix = root === '' ? '' : `${root}/`;
  const all = new Set(paths);
  const out: StackCandidate[] = [];
  const subdirs = new Set<string>();
  for (const p of all) {
    if (!p.startsWith(prefix)) continue;
    const rel = p.slice(prefix.length);
    const parts = rel.split('/');
    if (parts.length === 1) {
      const m = /^(.+)\.ya?ml$/.exec(rel);
      // At the repository root, capstan.yaml is the operator's own settings file, not a stack.
      const isSettings = root === '' && /^capstan\.ya?ml$/.test(rel);
      if (m?.[1] !== undefined && !rel.startsWith('.') && !isSettings) {
        const envFile = joinPath(root, '.env');
        out.push({ file: p, defaultName: m[1], dir: root, envFile: all.has(envFile) ? envFile : undefined });
      }
    } else if (parts.length === 2 && parts[0] !== undefined) {
      subdirs.add(parts[0]);
    }
  }
  for (const d of subdirs) {
    const dir = joinPath(root, d);
    const compose = COMPOSE_FILES.map((f) => joinPath(dir, f)).find((f) => all.has(f));
    if (compose === undefined) continue;
    const envFile = joinPath(dir, '.env');
    out.push({ file: compose, defaultName: d, dir, envFile: all.has(envFile) ? envFile : undefined });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** Compose's project-name normalization: lowercase, keep [a-z0-9_-], no leading "_" or "-". */
export function normalizeStackName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '')
    .replace(/^[_-]+/, '');
}
