// Writes a new image tag into a Compose file the way a person would: the
// YAML document is parsed (the yaml library's document API, which keeps
// every node's source range) only to find the service's `image:` scalar,
// and that scalar's text alone is replaced, in its own quoting style.
// Comments, key order, blank lines and formatting stay byte for byte. A
// service that takes its image from `extends` is followed to the file and
// service that define it. Pure: file contents come in, new contents go out.

import { posix } from 'node:path';
import { isMap, isScalar, parseDocument, type Scalar } from 'yaml';

/** Where a service's `image:` is written. */
export interface ImageSite {
  file: string;
  service: string;
}

export type SiteLookup = { kind: 'found'; site: ImageSite; image: string } | { kind: 'error'; message: string };

/** Follows `extends` (same file or `{ file, service }`) to the `image:` that applies, at most 10 levels deep. */
export function findImageSite(files: ReadonlyMap<string, string>, file: string, service: string): SiteLookup {
  let at: ImageSite = { file, service };
  for (let depth = 0; depth < 10; depth++) {
    const text = files.get(at.file);
    if (text === undefined) return { kind: 'error', message: `${at.file} is not in the repository` };
    const doc = parseDocument(text);
    const node = doc.getIn(['services', at.service], true);
    if (!isMap(node)) {
      // A service of an included file joins the stack: look there.
      const included = includedFiles(doc.get('include'), at.file).find((f) => isMap(parseDocument(files.get(f) ?? '').getIn(['services', at.service], true)));
      if (included === undefined) return { kind: 'error', message: `${at.file} has no service ${JSON.stringify(at.service)}` };
      at = { file: included, service: at.service };
      continue;
    }
    const image = node.get('image', true);
    if (isScalar(image)) {
      const source = text.slice(image.range?.[0] ?? 0, image.range?.[1] ?? 0);
      if (source.includes('$')) return { kind: 'error', message: `${at.file}: the image of ${at.service} is built from a variable (${source.trim()}), which cannot be updated` };
      return { kind: 'found', site: at, image: String(image.value) };
    }
    const ext: unknown = node.get('extends', true);
    if (isScalar(ext)) {
      at = { file: at.file, service: String(ext.value) };
    } else if (isMap(ext)) {
      const base = String(ext.get('service') ?? '');
      const other: unknown = ext.get('file');
      at = { file: other === undefined ? at.file : posix.normalize(posix.join(posix.dirname(at.file), String(other))), service: base };
    } else {
      return { kind: 'error', message: `${at.file}: service ${at.service} has no \`image:\`` };
    }
  }
  return { kind: 'error', message: `${file}: \`extends\` of ${service} goes more than 10 levels deep` };
}

/** The files an `include:` list names (short and long form), relative to the including file. */
function includedFiles(include: unknown, file: string): string[] {
  const items: unknown[] = include !== null && typeof include === 'object' && 'items' in include && Array.isArray(include.items) ? include.items : [];
  return items.flatMap((item) => {
    const path: unknown = isScalar(item) ? item.value : isMap(item) ? item.get('path') : undefined;
    return typeof path === 'string' ? [posix.normalize(posix.join(posix.dirname(file), path))] : [];
  });
}

/** `text` with the `image:` of `service` set to `image`; undefined when the file has no such scalar. */
export function setImage(text: string, service: string, image: string): string | undefined {
  const doc = parseDocument(text);
  const node = doc.getIn(['services', service, 'image'], true);
  if (!isScalar(node) || node.range === undefined || node.range === null) return undefined;
  const [start, end] = node.range;
  return `${text.slice(0, start)}${quoted(node, image)}${text.slice(end)}`;
}

function quoted(node: Scalar, value: string): string {
  switch (node.type) {
    case 'QUOTE_DOUBLE': return JSON.stringify(value);
    case 'QUOTE_SINGLE': return `'${value.replace(/'/g, "''")}'`;
    default: return value;
  }
}

/** `registry/repo:1.4.2` → `registry/repo:1.5.0`: only the tag changes (a pinned digest cannot be updated). */
export function withTag(image: string, tag: string): string {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return `${colon > slash ? image.slice(0, colon) : image}:${tag}`;
}
