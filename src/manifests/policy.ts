// Who may grant which exception to the security baseline (DESIGN §2). The
// operator's --policy file (outside the repository) grants exceptions per
// stack, sets the limits, and names under `delegate:` what the repository's
// own capstan.yaml may grant itself; a grant there beyond what is delegated
// is an error at its line. Without --policy, the repository's grants count
// as before (and `capstan run` warns that whoever can push can grant them).
// Pure: both files arrive as text.

import { z } from 'zod';
import type { ValidationError } from '../errors.js';
import { DEFAULT_MANIFEST_LIMITS, LIMIT_KEYS, type ManifestLimits } from './limits.js';
import { parseYaml, toPlain } from './parse-yaml.js';
import type { PathSegment } from './parse-yaml.js';
import { Problems, type FileProblems } from './problems.js';
import { suggest } from './suggest.js';
import { reportZodIssues } from './zod-issues.js';

const FIXED_RULES = ['privileged', 'host_network', 'host_pid', 'host_ipc', 'docker_socket', 'unconfined'] as const;
const PARAM_RULES = ['cap:', 'host_path:', 'device:', 'sysctl:', 'security_opt:', 'logging:', 'external_network:', 'external_volume:'] as const;
const RULES_TEXT = `${FIXED_RULES.join(', ')}, cap:<NAME>, host_path:<absolute path>, device:<absolute path>, sysctl:<name>, security_opt:<seccomp|apparmor|label|...>, logging:<driver>, external_network:<name>, external_volume:<name>`;

/** Stack name → rule tokens. */
export type Grants = ReadonlyMap<string, readonly string[]>;

export interface OperatorPolicy {
  /** The file as the operator named it, for messages. */
  file: string;
  allow: Grants;
  /** Stack (or "*": every stack) → rules the repository may grant that stack ("*": any rule). */
  delegate: Grants;
  limits: ManifestLimits;
}

/** What validation asks of the policy in force. */
export interface Policy {
  allows(stack: string, rule: string): boolean;
  /** Where and how to allow it, e.g. `to allow it, add to capstan.yaml: policy: { … }`. */
  hint(stack: string, rule: string): string;
  limits: ManifestLimits;
}

/** One rule token, normalized (`cap:net_admin` → `cap:NET_ADMIN`), or why it is not one. */
function parseRule(value: string, wildcard = false): string | { error: string } {
  const v = value.trim();
  if (wildcard && v === '*') return v;
  if ((FIXED_RULES as readonly string[]).includes(v)) return v;
  const param = PARAM_RULES.find((p) => v.startsWith(p));
  const arg = param === undefined ? '' : v.slice(param.length);
  if (param === 'cap:' && /^[A-Za-z_]+$/.test(arg)) return `cap:${arg.toUpperCase().replace(/^CAP_/, '')}`;
  if ((param === 'host_path:' || param === 'device:') && arg.startsWith('/')) return `${param}${normalizeAbsolute(arg)}`;
  if (param !== undefined && param !== 'cap:' && param !== 'host_path:' && param !== 'device:' && /^[A-Za-z0-9_.:/*-]+$/.test(arg)) return param === 'sysctl:' ? `sysctl:${arg.replace(/\//g, '.')}` : v;
  const guess = suggest(v, [...FIXED_RULES, 'cap:NET_ADMIN', 'host_path:/srv', 'device:/dev/ttyUSB0', 'sysctl:net.core.somaxconn', 'security_opt:apparmor', 'logging:syslog']);
  return { error: `unknown policy rule ${JSON.stringify(value)}; rules are ${RULES_TEXT}${wildcard ? ', or "*"' : ''}${guess === undefined ? '' : ` (did you mean "${guess}"?)`}` };
}

/** `/srv//media/` → `/srv/media`: whole segments, no trailing slash, no dot segments. */
export function normalizeAbsolute(path: string): string {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

/** Does granting `grant` allow breaking `rule`? Paths match by whole segments: `host_path:/srv/media` covers /srv/media/tv, not /srv/media2. */
export function covers(grant: string, rule: string): boolean {
  if (grant === '*' || grant === rule) return true;
  for (const prefix of ['host_path:', 'device:']) {
    if (!grant.startsWith(prefix) || !rule.startsWith(prefix)) continue;
    const g = grant.slice(prefix.length);
    return g === '/' || rule.slice(prefix.length).startsWith(`${g}/`);
  }
  return false;
}

const ruleList = (wildcard: boolean) =>
  z.array(
    z.string({ error: 'expected a rule name' }).transform((value, ctx) => {
      const r = parseRule(value, wildcard);
      if (typeof r === 'string') return r;
      ctx.issues.push({ code: 'custom', input: value, message: r.error });
      return z.NEVER;
    }),
    { error: 'expected a list of rules' },
  );
const stacksSchema = z.record(z.string(), z.strictObject({ allow: ruleList(false).optional() }, { error: 'expected { allow: [...] }' }).nullable(), {
  error: 'expected a mapping of stack names to { allow: [...] }',
});

const repoSchema = z.looseObject({
  policy: z.strictObject({ stacks: stacksSchema.optional() }, { error: 'expected { stacks: { <stack>: { allow: [...] } } }' }).nullish(),
});

const positive = z.number({ error: 'expected a whole number' }).int('expected a whole number').positive('expected a number above 0');
const operatorSchema = z.strictObject(
  {
    stacks: stacksSchema.optional(),
    limits: z.strictObject(Object.fromEntries(Object.values(LIMIT_KEYS).map((k) => [k, positive.optional()])), { error: 'expected a mapping of limits' }).nullish(),
    delegate: z.record(z.string(), ruleList(true), { error: 'expected a mapping of stack names (or "*") to lists of rules' }).nullish(),
  },
  { error: 'expected a mapping with stacks, limits and delegate' },
);

/** Parses a policy YAML text into plain data, reporting syntax errors and unknown keys (with a did-you-mean) at their lines. */
function parseWith<T>(schema: z.ZodType<T>, file: string, text: string, problems: Problems, keysAt: (depth: number) => string[]): { data: T | undefined; fp: FileProblems } {
  const parsed = parseYaml(text);
  const fp = problems.forFile(file, parsed.root);
  for (const e of parsed.errors) problems.errorAtPos(file, e.pos, e.path, e.message);
  if (parsed.root === undefined) return { data: undefined, fp };
  const data = toPlain(parsed.root);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    fp.error([], 'expected a mapping');
    return { data: undefined, fp };
  }
  const r = schema.safeParse(data);
  if (r.success) return { data: r.data, fp };
  for (const issue of r.error.issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const at = issue.path.filter((p): p is PathSegment => typeof p === 'string' || typeof p === 'number');
    for (const key of issue.keys) {
      const guess = suggest(key, keysAt(at.length));
      fp.error([...at, key], 'unknown key', guess === undefined ? undefined : `did you mean "${guess}"?`, 'key');
    }
  }
  reportZodIssues(r.error.issues.filter((i) => i.code !== 'unrecognized_keys'), [], data, fp);
  return { data: undefined, fp };
}

const grantsOf = (stacks: Readonly<Record<string, { allow?: string[] | undefined } | null>> | undefined): Map<string, string[]> =>
  new Map(Object.entries(stacks ?? {}).map(([stack, entry]) => [stack, entry?.allow ?? []]));

/** The operator's --policy file; errors are positioned in it. */
export function parseOperatorPolicy(file: string, text: string): { policy: OperatorPolicy | undefined; errors: ValidationError[] } {
  const problems = new Problems();
  const { data } = parseWith(operatorSchema, file, text, problems, (depth) => (depth === 0 ? ['stacks', 'limits', 'delegate'] : depth === 1 ? Object.values(LIMIT_KEYS) : ['allow']));
  const errors = problems.sorted().errors;
  if (data === undefined || errors.length > 0) return { policy: undefined, errors };
  const limits = { ...DEFAULT_MANIFEST_LIMITS };
  for (const [name, key] of Object.entries(LIMIT_KEYS) as [keyof ManifestLimits, string][]) {
    const v = data.limits?.[key];
    if (v !== undefined) limits[name] = v;
  }
  return { policy: { file, allow: grantsOf(data.stacks), delegate: new Map(Object.entries(data.delegate ?? {})), limits }, errors: [] };
}

/** Is `rule` delegated to the repository for `stack`? */
function delegated(operator: OperatorPolicy, stack: string, rule: string): boolean {
  return [...(operator.delegate.get(stack) ?? []), ...(operator.delegate.get('*') ?? [])].some((d) => covers(d, rule));
}

/**
 * The `policy:` of the repository's capstan.yaml (its other keys are not the
 * policy's). With an operator policy, a grant it does not delegate is an error.
 */
export function parseRepoPolicy(file: string, text: string, problems: Problems, operator: OperatorPolicy | undefined): Grants {
  const { data, fp } = parseWith(repoSchema, file, text, problems, (depth) => (depth === 1 ? ['stacks'] : ['allow']));
  const grants = grantsOf(data?.policy?.stacks ?? undefined);
  if (operator === undefined) return grants;
  for (const [stack, rules] of grants) {
    rules.forEach((rule, i) => {
      if (delegated(operator, stack, rule)) return;
      fp.error(['policy', 'stacks', stack, 'allow', i], `stack ${stack} cannot grant itself ${rule}: the operator's policy ${operator.file} does not delegate it`, `the operator can allow it in ${operator.file} (stacks: { ${stack}: { allow: [${quote(rule)}] } }) or delegate it to the repository (delegate: { ${stack}: [${quote(rule)}] })`);
    });
  }
  return new Map([...grants].map(([stack, rules]) => [stack, rules.filter((r) => delegated(operator, stack, r))]));
}

const quote = (rule: string): string => (/^[a-z_]+$/.test(rule) ? rule : JSON.stringify(rule));

/** The policy in force: the operator's grants plus the repository's (all of them without an operator policy, else the delegated ones). */
export function effectivePolicy(operator: OperatorPolicy | undefined, repo: Grants, repoFile: string): Policy {
  const repoHint = (stack: string, rule: string): string => `to allow it, add to ${repoFile}: policy: { stacks: { ${stack}: { allow: [${quote(rule)}] } } }`;
  if (operator === undefined) {
    return { allows: (stack, rule) => (repo.get(stack) ?? []).some((g) => covers(g, rule)), hint: repoHint, limits: DEFAULT_MANIFEST_LIMITS };
  }
  return {
    allows: (stack, rule) => [...(operator.allow.get(stack) ?? []), ...(repo.get(stack) ?? [])].some((g) => covers(g, rule)),
    hint: (stack, rule) => (delegated(operator, stack, rule) ? repoHint(stack, rule) : `to allow it, add to the operator's policy ${operator.file}: stacks: { ${stack}: { allow: [${quote(rule)}] } }`),
    limits: operator.limits,
  };
}
