// Turns zod issues into positioned problems with plain-language messages.
// Unions are unwrapped to the one branch that matched the value's shape, so
// `{ target: "x" }` reports the bad `target`, not "invalid input".

import type { z } from 'zod';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';

type Issue = z.core.$ZodIssue;

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** zod's type names in the words of a YAML user. */
const EXPECTED: Readonly<Record<string, string>> = { object: 'a mapping', record: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };

const isDefaultMessage = (m: string): boolean => m.startsWith('Invalid input') || m.startsWith('Invalid option');

/** A union branch that failed only because the value had another type is not the user's intent. */
function isShapeMismatch(issues: readonly Issue[]): boolean {
  return issues.every(
    (i) => i.path.length === 0 && (i.code === 'invalid_type' || (i.code === 'invalid_union' && i.errors.every((branch) => isShapeMismatch(branch)))),
  );
}

/** `data` is the whole file as plain data; `base` is where the parsed value sits in it. */
export function reportZodIssues(issues: readonly Issue[], base: readonly PathSegment[], data: unknown, fp: FileProblems): void {
  for (const issue of issues) {
    const rel = issue.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
    const path = [...base, ...rel];
    if (issue.code === 'invalid_union') {
      const meaningful = issue.errors.filter((branch) => !isShapeMismatch(branch));
      const only = meaningful[0];
      if (meaningful.length === 1 && only !== undefined) {
        reportZodIssues(only, path, data, fp);
        continue;
      }
    }
    const actual = valueAt(data, path);
    let message = issue.message;
    const key = path[path.length - 1];
    if (actual === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
      if (!message.startsWith('missing')) message = `missing required key \`${String(key)}\``;
    } else if (issue.code === 'invalid_type' && isDefaultMessage(message)) {
      message = `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describe(actual)}`;
    } else if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && !message.includes(', got ')) {
      message = `${message}, got ${describe(actual)}`;
    } else if (isDefaultMessage(message)) {
      message = `invalid value ${describe(actual)}`;
    }
    fp.error(path, message);
  }
}
