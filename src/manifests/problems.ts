// Collects the errors and warnings of one load, turning key paths into
// file:line:col through the positioned tree. Deduplicates, because an
// aliased node is visited once per alias.

import { ValidationError } from '../errors.js';
import type { ManifestWarning } from './model.js';
import type { PathSegment, Pos, YNode } from './parse-yaml.js';
import { formatPath, locate } from './parse-yaml.js';

export type Anchor = 'key' | 'value';

export class Problems {
  readonly errors: ValidationError[] = [];
  readonly warnings: ManifestWarning[] = [];
  private readonly seen = new Set<string>();

  errorAtPos(file: string, pos: Pos, path: string, message: string, hint?: string): void {
    const id = `E\0${file}\0${pos.line}\0${pos.col}\0${path}\0${message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.errors.push(new ValidationError({ file, line: pos.line, col: pos.col }, path, message, hint));
  }

  warnAtPos(file: string, pos: Pos, path: string, message: string): void {
    const id = `W\0${file}\0${pos.line}\0${pos.col}\0${path}\0${message}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.warnings.push({ file, line: pos.line, col: pos.col, path, message });
  }

  /** A reporter bound to one manifest and its tree. */
  forFile(file: string, root: YNode | undefined): FileProblems {
    return new FileProblems(this, file, root);
  }

  sorted(): { errors: ValidationError[]; warnings: ManifestWarning[] } {
    const cmp = (a: { file: string; line: number; col: number }, b: { file: string; line: number; col: number }): number =>
      a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col;
    return { errors: [...this.errors].sort(cmp), warnings: [...this.warnings].sort(cmp) };
  }
}

export class FileProblems {
  constructor(
    readonly all: Problems,
    readonly file: string,
    private readonly root: YNode | undefined,
  ) {}

  /** Where a path points: its key (for "this key is wrong") or its value; a missing path points at its nearest ancestor's key. */
  pos(path: readonly PathSegment[], anchor: Anchor = 'value'): Pos {
    if (this.root === undefined) return { line: 1, col: 1 };
    const l = locate(this.root, path);
    if (!l.exact) return l.pos;
    return anchor === 'key' ? (l.keyPos ?? l.pos) : l.pos;
  }

  error(path: readonly PathSegment[], message: string, hint?: string, anchor: Anchor = 'value'): void {
    this.all.errorAtPos(this.file, this.pos(path, anchor), formatPath(path), message, hint);
  }

  warn(path: readonly PathSegment[], message: string, anchor: Anchor = 'value'): void {
    this.all.warnAtPos(this.file, this.pos(path, anchor), formatPath(path), message);
  }
}
