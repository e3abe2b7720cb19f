// Bounds on what a manifest may ask for (issue 10): a commit is input from
// whoever can push, so its size, its fan-out (replicas, port ranges,
// services) and its names are capped before anything is planned. The
// operator raises or lowers each in the `limits:` of the --policy file.
// File size and keys per mapping are checked while parsing (parse-yaml.ts);
// the rest here, on a normalized stack. Pure.

import type { StackSpec } from './model.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';

export interface ManifestLimits {
  /** Bytes of one manifest file (a stack file, an included or extended file, an env file). */
  fileBytes: number;
  /** Keys of one YAML mapping. */
  keysPerMapping: number;
  /** Services of one stack. */
  servicesPerStack: number;
  /** `deploy.replicas` of one service. */
  replicas: number;
  /** Ports one range (`8000-8099:80-179`) expands to. */
  portsPerRange: number;
  /** Characters of a stack, service, network or volume name, and of a container name Capstan derives from them. */
  nameLength: number;
}

/** Docker refuses container names and hostnames past these lengths: 63 keeps `<stack>-<service>-<n>` a valid DNS label. */
export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = Object.freeze({
  fileBytes: 1024 * 1024,
  keysPerMapping: 10_000,
  servicesPerStack: 200,
  replicas: 100,
  portsPerRange: 100,
  nameLength: 63,
});

/** Keys of `limits:` in the policy file, as users write them. */
export const LIMIT_KEYS: Readonly<Record<keyof ManifestLimits, string>> = {
  fileBytes: 'file_bytes',
  keysPerMapping: 'keys_per_mapping',
  servicesPerStack: 'services_per_stack',
  replicas: 'replicas',
  portsPerRange: 'ports_per_range',
  nameLength: 'name_length',
};

const where = (key: keyof ManifestLimits): string => `limits.${LIMIT_KEYS[key]} in the operator's --policy file`;

export interface LimitsInput {
  stack: StackSpec;
  rawServices: Readonly<Record<string, unknown>>;
  /** Where the stack's name is given (its `name:` or the file itself). */
  fpOfStack: FileProblems;
  nameAt: PathSegment[];
  fpOfService: (service: string) => FileProblems;
  fpOfDeclaration: (section: 'networks' | 'volumes', key: string) => FileProblems;
}

export function checkLimits(input: LimitsInput, limits: ManifestLimits): void {
  const { stack } = input;
  const tooLong = (name: string): boolean => name.length > limits.nameLength;
  const shown = (name: string): string => JSON.stringify(name.length > 40 ? `${name.slice(0, 37)}...` : name);
  if (tooLong(stack.name)) input.fpOfStack.error(input.nameAt, `stack name ${shown(stack.name)} is ${stack.name.length} characters; the limit is ${limits.nameLength} (${where('nameLength')})`, 'use a shorter file, directory or `name:`', 'key');
  const services = Object.keys(stack.services);
  if (services.length > limits.servicesPerStack) input.fpOfStack.error(['services'], `${services.length} services in one stack; the limit is ${limits.servicesPerStack} (${where('servicesPerStack')})`, 'split the stack into several files', 'key');
  for (const [name, s] of Object.entries(stack.services)) {
    const fp = input.fpOfService(name);
    const base: PathSegment[] = ['services', name];
    if (tooLong(name)) fp.error(base, `service name ${shown(name)} is ${name.length} characters; the limit is ${limits.nameLength} (${where('nameLength')})`, 'use a shorter name', 'key');
    if (s.containerName !== undefined && tooLong(s.containerName)) fp.error([...base, 'container_name'], `container_name is ${s.containerName.length} characters; the limit is ${limits.nameLength} (${where('nameLength')})`);
    if (s.replicas > limits.replicas) fp.error([...base, 'deploy', 'replicas'], `${s.replicas} replicas; the limit is ${limits.replicas} (${where('replicas')})`);
    const raw = input.rawServices[name];
    const ports = typeof raw === 'object' && raw !== null && Array.isArray((raw as Record<string, unknown>)['ports']) ? ((raw as Record<string, unknown>)['ports'] as unknown[]) : [];
    ports.forEach((p, i) => {
      const size = rangeSize(p);
      if (size > limits.portsPerRange) fp.error([...base, 'ports', i], `a port range of ${size} ports; the limit is ${limits.portsPerRange} (${where('portsPerRange')})`, 'publish fewer ports, or ask the operator to raise the limit');
    });
  }
  for (const section of ['networks', 'volumes'] as const) {
    for (const key of Object.keys(stack[section])) {
      if (tooLong(key)) input.fpOfDeclaration(section, key).error([section, key], `${section.slice(0, -1)} name ${shown(key)} is ${key.length} characters; the limit is ${limits.nameLength} (${where('nameLength')})`, 'use a shorter name', 'key');
    }
  }
}

/** Ports one entry of `ports:` expands to, in its widest range (`8000-8099:80-179` → 100). */
function rangeSize(entry: unknown): number {
  const text = typeof entry === 'object' && entry !== null ? Object.values(entry).map(String).join(' ') : String(entry);
  let widest = 1;
  for (const m of text.matchAll(/(\d+)-(\d+)/g)) widest = Math.max(widest, Number(m[2]) - Number(m[1]) + 1);
  return widest;
}
