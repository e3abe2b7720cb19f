// Parses `.env` and `env_file` contents (KEY=VALUE lines) the way Compose
// reads them: comments, `export`, single quotes literal, double quotes with
// escapes; unquoted and double-quoted values interpolate earlier variables
// of the file, then `outer`. Pure: content in, variables and positioned problems out.

import { interpolateString } from './interpolate.js';
import type { Lookup } from './interpolate.js';
import { setOwn } from './own.js';

export interface DotenvProblem {
  line: number;
  col: number;
  message: string;
}

export interface Dotenv {
  vars: Record<string, string>;
  errors: DotenvProblem[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDotenv(text: string, outer: Lookup = () => undefined): Dotenv {
  const vars: Record<string, string> = {};
  const errors: DotenvProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    const body = trimmed.startsWith('export ') ? trimmed.slice(7).trimStart() : trimmed;
    const eq = body.indexOf('=');
    const key = (eq < 0 ? body : body.slice(0, eq)).trim();
    if (!KEY.test(key)) {
      errors.push({ line: i + 1, col: indent + 1, message: `invalid variable name ${JSON.stringify(key)}` });
      continue;
    }
    // A bare `KEY` line means "take it from the environment", which a file cannot provide: skip it.
    if (eq < 0) continue;
    const rest = body.slice(eq + 1).trimStart();
    const parsed = parseValue(rest);
    if (parsed === undefined) {
      errors.push({ line: i + 1, col: indent + 1, message: `unterminated quote in value of ${key}` });
      continue;
    }
    let value = parsed;
    if (!rest.startsWith("'") && parsed.includes('$')) {
      const r = interpolateString(parsed, (n) => (Object.hasOwn(vars, n) ? vars[n] : outer(n)));
      if (r.error !== undefined) {
        errors.push({ line: i + 1, col: indent + 1, message: r.error });
        continue;
      }
      value = r.value;
    }
    setOwn(vars, key, value);
  }
  return { vars, errors };
}

function parseValue(rest: string): string | undefined {
  const q = rest[0];
  if (q === "'") {
    const end = rest.indexOf("'", 1);
    return end < 0 ? undefined : rest.slice(1, end);
  }
  if (q === '"') {
    let out = '';
    for (let i = 1; i < rest.length; i++) {
      const c = rest[i];
      if (c === '"') return out;
      if (c === '\\' && i + 1 < rest.length) {
        const n = rest[++i];
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n === 'r' ? '\r' : (n ?? '');
        continue;
      }
      out += c;
    }
    return undefined;
  }
  // Unquoted: an inline comment starts at ` #`.
  const hash = rest.search(/\s#/);
  return (hash < 0 ? rest : rest.slice(0, hash)).trim();
}
