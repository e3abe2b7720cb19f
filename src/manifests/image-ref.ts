// Image references as Docker reads them (distribution/reference's rules):
// `[registry/]path[:tag][@digest]`, where the first component is a registry
// when it holds a '.' or ':' or is `localhost`, Docker Hub otherwise (and
// one-component Hub names live under `library/`). Pure: no I/O.

export interface ImageRef {
  /** Registry host as written (`127.0.0.1:5000`, `ghcr.io`), `docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry (`library/redis`, `team/api`). */
  path: string;
  /** undefined when only a digest pins the image; `latest` when neither is given. */
  tag: string | undefined;
  /** `sha256:…` when the reference pins one. */
  digest: string | undefined;
}

export const DOCKER_HUB = 'docker.io';

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** undefined when `ref` is not a valid reference. */
export function parseImageRef(ref: string): ImageRef | undefined {
  let rest = ref.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  if (rest === '') return undefined;
  const first = rest.split('/')[0] ?? '';
  const hasRegistry = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = hasRegistry ? first : DOCKER_HUB;
  let path = hasRegistry ? rest.slice(first.length + 1) : rest;
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(path)) return undefined;
  return { registry: registry === 'index.docker.io' ? DOCKER_HUB : registry, path, tag: tag ?? (digest === undefined ? 'latest' : undefined), digest };
}

/** `registry/path`, the same for every spelling of one repository (`redis`, `docker.io/library/redis`). */
export function repositoryOf(ref: ImageRef): string {
  return `${ref.registry}/${ref.path}`;
}

/**
 * The digest of `ref`'s repository among an image's RepoDigests
 * (`127.0.0.1:5000/app@sha256:…`, `redis@sha256:…`): the repo digest a
 * container made from it runs. undefined for images only built locally.
 */
export function repoDigestOf(ref: ImageRef, repoDigests: readonly string[]): string | undefined {
  const want = repositoryOf(ref);
  for (const entry of repoDigests) {
    const parsed = parseImageRef(entry);
    if (parsed?.digest !== undefined && repositoryOf(parsed) === want) return parsed.digest;
  }
  return undefined;
}

/** `sha256:0123456789ab…`: enough to tell digests apart in a plan line. */
export function shortDigest(digest: string): string {
  const [algo, hex = ''] = digest.split(':');
  return `${algo}:${hex.slice(0, 12)}…`;
}

/** Same repository and, where both name one, the same tag and digest: how a listed container image is compared with Git's. */
export function sameImage(a: string, b: string): boolean {
  const x = parseImageRef(a);
  const y = parseImageRef(b);
  if (x === undefined || y === undefined) return a === b;
  if (repositoryOf(x) !== repositoryOf(y)) return false;
  if (x.digest !== undefined && y.digest !== undefined) return x.digest === y.digest;
  // The engine lists `repo:tag` for a container made from `repo:tag@digest`.
  return x.tag === undefined || y.tag === undefined || x.tag === y.tag;
}
