// Reads the operator's optional settings file. An explicit --config must
// exist; the implicit ./capstan.yaml is used only when present.

import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../errors.js';

export function readSettingsFile(explicit: string | undefined): Record<string, unknown> {
  const file = explicit ?? (existsSync('capstan.yaml') ? 'capstan.yaml' : undefined);
  if (file === undefined) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`cannot read settings file ${file}`, 'check the --config path');
  }
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`, 'fix the YAML syntax');
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file}: expected a mapping of settings`);
  return value as Record<string, unknown>;
}
