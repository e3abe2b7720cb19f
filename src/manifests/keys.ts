// Walks data alongside its zod schema to judge every mapping key: known,
// `x-*` extension, a Compose key that is "not supported yet", or a typo
// (with a did-you-mean). zod itself is told to pass unknown keys through.

import type { z } from 'zod';
import type { PathSegment } from './parse-yaml.js';
import { keyRules } from './schema.js';
import { suggest } from './suggest.js';

export interface KeyProblem {
  path: PathSegment[];
  kind: 'unknown' | 'unsupported';
  message: string;
  hint: string | undefined;
}

/** The parts of zod's schema definitions this walker reads. */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: readonly z.ZodType[];
  element?: z.ZodType;
  valueType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { def: Def }).def;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const d = defOf(s);
    if ((d.type === 'optional' || d.type === 'nullable' || d.type === 'default' || d.type === 'readonly' || d.type === 'prefault') && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else return s;
  }
}

export function checkKeys(schema: z.ZodType, value: unknown, path: PathSegment[] = [], out: KeyProblem[] = []): KeyProblem[] {
  const s = unwrap(schema);
  const d = defOf(s);
  if (d.type === 'union' && d.options) {
    const match = d.options.find((o) => {
      const t = defOf(unwrap(o)).type;
      return Array.isArray(value) ? t === 'array' : isPlainObject(value) ? t === 'object' || t === 'record' : false;
    });
    if (match !== undefined) checkKeys(match, value, path, out);
  } else if (d.type === 'array' && d.element && Array.isArray(value)) {
    value.forEach((item, i) => checkKeys(d.element as z.ZodType, item, [...path, i], out));
  } else if (d.type === 'record' && d.valueType && isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) checkKeys(d.valueType, v, [...path, k], out);
  } else if (d.type === 'object' && d.shape && isPlainObject(value)) {
    const rules = keyRules.get(s);
    const shape = d.shape;
    for (const [k, v] of Object.entries(value)) {
      const keyPath = [...path, k];
      if (Object.hasOwn(shape, k)) {
        checkKeys(shape[k] as z.ZodType, v, keyPath, out);
      } else if (rules?.extensions === true && k.startsWith('x-')) {
        continue;
      } else if (rules !== undefined && Object.hasOwn(rules.unsupported, k)) {
        out.push({ path: keyPath, kind: 'unsupported', message: `\`${k}\` is not supported yet`, hint: rules.unsupported[k] });
      } else {
        const guess = suggest(k, [...Object.keys(shape), ...Object.keys(rules?.unsupported ?? {})]);
        out.push({ path: keyPath, kind: 'unknown', message: 'unknown key', hint: guess === undefined ? undefined : `did you mean "${guess}"?` });
      }
    }
  }
  return out;
}
