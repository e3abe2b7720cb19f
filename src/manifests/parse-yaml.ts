// YAML text → a small positioned tree (maps, sequences, scalars) with aliases
// and `<<` merge keys already expanded, so every later stage can name the
// file:line:col of any value or key. Pure: the text comes in as a string.

import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { setOwn } from './own.js';

export interface Pos {
  line: number;
  col: number;
}

export type Scalar = string | number | boolean | null;

export interface MapNode {
  kind: 'map';
  pos: Pos;
  entries: Map<string, MapEntry>;
}
export interface MapEntry {
  keyPos: Pos;
  value: YNode;
}
export interface SeqNode {
  kind: 'seq';
  pos: Pos;
  items: YNode[];
}
export interface ScalarNode {
  kind: 'scalar';
  pos: Pos;
  value: Scalar;
}
export type YNode = MapNode | SeqNode | ScalarNode;

export interface YamlProblem {
  pos: Pos;
  path: string;
  message: string;
}

export interface ParsedYaml {
  /** undefined when the text has syntax errors or holds no document. */
  root: YNode | undefined;
  errors: YamlProblem[];
  warnings: YamlProblem[];
}

/** Expanding aliases can blow up exponentially ("billion laughs"); a manifest never needs this many nodes. */
const MAX_NODES = 200_000;

const START: Pos = { line: 1, col: 1 };

export interface ParseOptions {
  /** Most keys one mapping may hold (the --policy limit); more is an error at the mapping. */
  maxKeys?: number;
  /** Largest text, in UTF-8 bytes, worth parsing; a larger file is one error at its start. */
  maxBytes?: number;
}

// Matching control characters is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Why a file is too big to read (any manifest, env file or included file), or undefined. */
export function oversized(text: string, maxBytes: number | undefined): string | undefined {
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most files need no count.
  if (maxBytes === undefined || text.length * 3 <= maxBytes) return undefined;
  const bytes = Buffer.byteLength(text);
  return bytes > maxBytes ? `the file is ${bytes} bytes; the limit is ${maxBytes} (limits.file_bytes in the operator's --policy file)` : undefined;
}

export function parseYaml(text: string, opts: ParseOptions = {}): ParsedYaml {
  const tooBig = oversized(text, opts.maxBytes);
  if (tooBig !== undefined) return { root: undefined, errors: [{ pos: START, path: '', message: tooBig }], warnings: [] };
  const lineCounter = new LineCounter();
  // Duplicate keys are found in TreeBuilder's map: the library's own check compares each key with every earlier one (quadratic).
  const doc = parseDocument(text, { keepSourceTokens: true, lineCounter, merge: true, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number | undefined): Pos => {
    if (offset === undefined) return START;
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, col: lp.col };
  };
  const firstLine = (m: string): string => (m.split('\n')[0] ?? m).trim();
  const errors: YamlProblem[] = doc.errors.map((e) => ({
    pos: at(e.pos[0]),
    path: '',
    message: e.code === 'MULTIPLE_DOCS' ? 'a stack file holds one YAML document; split the `---` documents into separate files' : `YAML syntax: ${firstLine(e.message)}`,
  }));
  const warnings: YamlProblem[] = doc.warnings.map((w) => ({ pos: at(w.pos[0]), path: '', message: `YAML: ${firstLine(w.message)}` }));
  // A text decoder puts U+FFFD where the bytes were not UTF-8.
  const invalid = text.indexOf('\uFFFD');
  if (invalid >= 0) errors.unshift({ pos: at(invalid), path: '', message: 'the file is not valid UTF-8 (or holds U+FFFD)' });
  if (errors.length > 0 || doc.contents === null) return { root: undefined, errors, warnings };
  const builder = new TreeBuilder(doc, at, opts.maxKeys ?? Number.POSITIVE_INFINITY);
  const root = builder.build(doc.contents, '', new Set());
  return { root: builder.errors.length > 0 ? undefined : root, errors: [...errors, ...builder.errors], warnings };
}

class TreeBuilder {
  readonly errors: YamlProblem[] = [];
  private count = 0;

  constructor(
    private readonly doc: Document,
    private readonly at: (offset: number | undefined) => Pos,
    private readonly maxKeys: number,
  ) {}

  /** Names, images, environment values: none of them has a use for control characters, which can hide what a value says. */
  private checkText(value: string, node: YamlNode | null | undefined, path: string): void {
    const m = CONTROL.exec(value);
    if (m !== null) this.errors.push({ pos: this.posOf(node), path, message: `control character U+${(m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')} in ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}` });
  }

  private posOf(node: YamlNode | null | undefined): Pos {
    return this.at(node?.range?.[0]);
  }

  build(node: unknown, path: string, resolving: Set<unknown>): YNode {
    this.count++;
    if (this.count > MAX_NODES) {
      if (this.count === MAX_NODES + 1) this.errors.push({ pos: START, path: '', message: 'too many nodes after expanding aliases' });
      return { kind: 'scalar', pos: START, value: null };
    }
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined || resolving.has(target)) {
        this.errors.push({ pos: this.posOf(node), path, message: `alias *${node.source} cannot be resolved` });
        return { kind: 'scalar', pos: this.posOf(node), value: null };
      }
      const next = new Set(resolving).add(target);
      return this.build(target, path, next);
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string') this.checkText(v, node, path);
      const value: Scalar = v === null || v === undefined ? null : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
      return { kind: 'scalar', pos: this.posOf(node), value };
    }
    if (isSeq(node)) {
      return { kind: 'seq', pos: this.posOf(node), items: node.items.map((item, i) => this.build(item, `${path}[${i}]`, resolving)) };
    }
    if (isMap(node)) {
      const entries = new Map<string, MapEntry>();
      const merged: MapNode[] = [];
      if (node.items.length > this.maxKeys) {
        this.errors.push({ pos: this.posOf(node), path, message: `a mapping of ${node.items.length} keys; the limit is ${this.maxKeys} (limits.keys_per_mapping in the operator's --policy file)` });
        return { kind: 'scalar', pos: this.posOf(node), value: null };
      }
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        if (isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<') {
          merged.push(...this.mergeSources(pair.value, path, resolving));
          continue;
        }
        if (!isScalar(key) || key.value === null || typeof key.value === 'object') {
          this.errors.push({ pos: this.posOf(key as YamlNode | null), path, message: 'keys must be plain strings' });
          continue;
        }
        const name = String(key.value);
        const childPath = path === '' ? name : `${path}.${name}`;
        const keyPos = this.posOf(key);
        this.checkText(name, key, childPath);
        if (entries.has(name)) {
          this.errors.push({ pos: keyPos, path: '', message: 'YAML syntax: Map keys must be unique' });
          continue;
        }
        // `key:` with nothing after it has no value node; point at the key instead of the file start.
        const value: YNode = pair.value === null || pair.value === undefined ? { kind: 'scalar', pos: keyPos, value: null } : this.build(pair.value, childPath, resolving);
        entries.set(name, { keyPos, value });
      }
      // Explicit keys win over merged ones; among merged maps the earlier one wins (YAML merge-key spec).
      for (const source of merged) {
        for (const [k, e] of source.entries) if (!entries.has(k)) entries.set(k, e);
      }
      return { kind: 'map', pos: this.posOf(node), entries };
    }
    // An empty value (`key:`) arrives as null.
    return { kind: 'scalar', pos: this.posOf(node as YamlNode | null), value: null };
  }

  private mergeSources(value: unknown, path: string, resolving: Set<unknown>): MapNode[] {
    const built = this.build(value, path, resolving);
    const list = built.kind === 'seq' ? built.items : [built];
    const out: MapNode[] = [];
    for (const item of list) {
      if (item.kind === 'map') out.push(item);
      else this.errors.push({ pos: item.pos, path, message: 'a merge key (<<) must refer to a mapping or a list of mappings' });
    }
    return out;
  }
}

/** The tree as plain JS data, the input of the zod schemas. Own-property writes avoid `__proto__` surprises. */
export function toPlain(node: YNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toPlain);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, e] of node.entries) setOwn(out, k, toPlain(e.value));
      return out;
    }
  }
}

export type PathSegment = string | number;

export interface Located {
  /** Where the value (or, for `keyPos`, its key) sits; the nearest existing ancestor when the path runs out. */
  pos: Pos;
  keyPos: Pos | undefined;
  /** True when the whole path exists. */
  exact: boolean;
  node: YNode | undefined;
}

export function locate(root: YNode, path: readonly PathSegment[]): Located {
  let node: YNode = root;
  let keyPos: Pos | undefined;
  for (const seg of path) {
    if (node.kind === 'map' && typeof seg === 'string') {
      const e = node.entries.get(seg);
      if (e === undefined) return { pos: keyPos ?? node.pos, keyPos, exact: false, node: undefined };
      keyPos = e.keyPos;
      node = e.value;
    } else if (node.kind === 'seq' && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return { pos: keyPos ?? node.pos, keyPos, exact: false, node: undefined };
      keyPos = undefined;
      node = item;
    } else {
      return { pos: node.pos, keyPos, exact: false, node: undefined };
    }
  }
  return { pos: node.pos, keyPos, exact: true, node };
}

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}
