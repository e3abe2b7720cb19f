// Compose variable interpolation ($VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
// ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, $$) over the scalar values of a
// parsed tree; keys are never interpolated. Pure: variables come in as data.

import type { Pos, YNode } from './parse-yaml.js';

export type Lookup = (name: string) => string | undefined;

export interface InterpolationResult {
  value: string;
  /** Variables referenced without a default that were not set. */
  unset: string[];
  error: string | undefined;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function interpolateString(input: string, lookup: Lookup): InterpolationResult {
  const unset: string[] = [];
  try {
    return { value: expand(input, lookup, unset), unset, error: undefined };
  } catch (e) {
    if (e instanceof InterpolationFailure) return { value: input, unset, error: e.message };
    throw e;
  }
}

class InterpolationFailure extends Error {}

function expand(s: string, lookup: Lookup, unset: string[]): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = matchingBrace(s, i + 2);
      if (end < 0) throw new InterpolationFailure(`invalid interpolation format in ${JSON.stringify(s)}: missing "}"`);
      out += braced(s.slice(i + 2, end), s, lookup, unset);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(s.slice(i + 1));
    if (m === null) throw new InterpolationFailure(`invalid interpolation format in ${JSON.stringify(s)}: "$" must start a variable; write "$$" for a literal "$"`);
    const name = m[0];
    const v = lookup(name);
    if (v === undefined) unset.push(name);
    out += v ?? '';
    i += 1 + name.length;
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`, honouring nested `${...}`. */
function matchingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '$') {
      i++;
    } else if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

function braced(body: string, whole: string, lookup: Lookup, unset: string[]): string {
  const m = NAME.exec(body);
  if (m === null) throw new InterpolationFailure(`invalid interpolation format in ${JSON.stringify(whole)}: "\${${body}}" does not start with a variable name`);
  const name = m[0];
  const rest = body.slice(name.length);
  const value = lookup(name);
  if (rest === '') {
    if (value === undefined) unset.push(name);
    return value ?? '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest);
  if (op === null) throw new InterpolationFailure(`invalid interpolation format in ${JSON.stringify(whole)}: unexpected ${JSON.stringify(rest)} after ${name}`);
  const operator = op[0];
  // The word after the operator is expanded lazily, as in the shell: only when it is used.
  const word = (): string => expand(rest.slice(operator.length), lookup, unset);
  const emptyCounts = operator.startsWith(':');
  const isSet = value !== undefined && !(emptyCounts && value === '');
  switch (operator) {
    case ':-':
    case '-':
      return isSet ? (value ?? '') : word();
    case ':?':
    case '?': {
      if (isSet) return value ?? '';
      const msg = word();
      throw new InterpolationFailure(`required variable ${name} is missing a value${msg === '' ? '' : `: ${msg}`}`);
    }
    default:
      return isSet ? word() : '';
  }
}

export interface TreeInterpolationProblem {
  pos: Pos;
  path: string;
  message: string;
}

/** Interpolates every string scalar in place. Returns errors and unset-variable warnings with the scalar's position. */
export function interpolateTree(root: YNode, lookup: Lookup): { errors: TreeInterpolationProblem[]; warnings: TreeInterpolationProblem[] } {
  const errors: TreeInterpolationProblem[] = [];
  const warnings: TreeInterpolationProblem[] = [];
  const walk = (node: YNode, path: string): void => {
    if (node.kind === 'map') {
      for (const [k, e] of node.entries) walk(e.value, path === '' ? k : `${path}.${k}`);
    } else if (node.kind === 'seq') {
      node.items.forEach((item, i) => walk(item, `${path}[${i}]`));
    } else if (typeof node.value === 'string' && node.value.includes('$')) {
      const r = interpolateString(node.value, lookup);
      if (r.error !== undefined) {
        errors.push({ pos: node.pos, path, message: r.error });
        return;
      }
      for (const name of new Set(r.unset)) warnings.push({ pos: node.pos, path, message: `the ${JSON.stringify(name)} variable is not set; defaulting to a blank string` });
      node.value = r.value;
    }
  };
  walk(root, '');
  return { errors, warnings };
}
