// The security baseline of DESIGN §2 (like Kubernetes' Pod Security
// "baseline") and its per-stack exceptions from `policy:` in the repository's
// capstan.yaml. Pure: the policy file's text arrives as data; every breach is
// a positioned error that names the rule and the exact line that allows it.

import { z } from 'zod';
import type { MountSpec, StackSpec } from './model.js';
import { parseYaml, toPlain } from './parse-yaml.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems, Problems } from './problems.js';
import { suggest } from './suggest.js';
import { reportZodIssues } from './zod-issues.js';

/** Stack name → the rule tokens it is allowed to break. */
export type Policy = ReadonlyMap<string, ReadonlySet<string>>;

export const NO_EXCEPTIONS: Policy = new Map();

/** Docker's default capability set: adding one of these changes nothing. */
export const DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

const FIXED_RULES = ['privileged', 'host_network', 'host_pid', 'host_ipc', 'docker_socket', 'unconfined'] as const;
const PARAM_RULES = ['cap:', 'host_path:', 'device:'] as const;

/** Host paths whose bind mount hands the container the host: the exact path, and for some every path below. */
const SENSITIVE_EXACT = new Set(['/', '/etc', '/proc', '/sys', '/dev', '/boot', '/root', '/run', '/var', '/var/run', '/var/lib', '/var/lib/docker', '/usr']);
const SENSITIVE_TREES = ['/proc/', '/sys/', '/dev/', '/boot/', '/var/lib/docker/'];

function allowToken(value: string, ctx: z.core.$RefinementCtx): string {
  const v = value.trim();
  if ((FIXED_RULES as readonly string[]).includes(v)) return v;
  const param = PARAM_RULES.find((p) => v.startsWith(p));
  if (param === 'cap:' && /^cap:[A-Za-z_]+$/.test(v)) return `cap:${v.slice(4).toUpperCase().replace(/^CAP_/, '')}`;
  if ((param === 'host_path:' || param === 'device:') && v.slice(param.length).startsWith('/')) return v;
  const guess = suggest(v, [...FIXED_RULES, 'cap:NET_ADMIN', 'host_path:/etc', 'device:/dev/ttyUSB0']);
  ctx.issues.push({
    code: 'custom',
    input: value,
    message: `unknown policy rule ${JSON.stringify(value)}; rules are ${FIXED_RULES.join(', ')}, cap:<NAME>, host_path:<absolute path>, device:<absolute path>${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`,
  });
  return z.NEVER;
}

const policySchema = z.looseObject({
  policy: z
    .strictObject(
      {
        stacks: z
          .record(z.string(), z.strictObject({ allow: z.array(z.string({ error: 'expected a rule name' }).transform(allowToken), { error: 'expected a list of rules' }).optional() }, { error: 'expected { allow: [...] }' }).nullable(), {
            error: 'expected a mapping of stack names to { allow: [...] }',
          })
          .optional(),
      },
      { error: 'expected { stacks: { <stack>: { allow: [...] } } }' },
    )
    .nullish(),
});

/** The `policy:` of a capstan.yaml (other keys are operator settings, read elsewhere). Errors are reported against `file`. */
export function parsePolicy(file: string, text: string, problems: Problems): Policy {
  const parsed = parseYaml(text);
  const fp = problems.forFile(file, parsed.root);
  for (const e of parsed.errors) problems.errorAtPos(file, e.pos, e.path, e.message);
  if (parsed.root === undefined) return NO_EXCEPTIONS;
  const data = toPlain(parsed.root);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    fp.error([], 'expected a mapping (capstan.yaml)');
    return NO_EXCEPTIONS;
  }
  const r = policySchema.safeParse(data);
  if (!r.success) {
    for (const issue of r.error.issues) {
      if (issue.code !== 'unrecognized_keys') continue;
      const at = issue.path.filter((p): p is PathSegment => typeof p === 'string' || typeof p === 'number');
      for (const key of issue.keys) {
        const guess = suggest(key, at.length === 1 ? ['stacks'] : ['allow']);
        fp.error([...at, key], 'unknown key', guess === undefined ? undefined : `did you mean "${guess}"?`, 'key');
      }
    }
    reportZodIssues(r.error.issues.filter((i) => i.code !== 'unrecognized_keys'), [], data, fp);
    return NO_EXCEPTIONS;
  }
  const out = new Map<string, ReadonlySet<string>>();
  for (const [stack, entry] of Object.entries(r.data.policy?.stacks ?? {})) out.set(stack, new Set(entry?.allow ?? []));
  return out;
}

interface Breach {
  path: PathSegment[];
  anchor: 'key' | 'value';
  rule: string;
  why: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const normalizeCap = (v: unknown): string => String(v).trim().toUpperCase().replace(/^CAP_/, '');

/** Reports every breach of the baseline in `stack` that `policy` does not allow for it. */
/** `fpOf` names the file that declares each service (a stack may include others). */
export function checkPolicy(stack: StackSpec, rawServices: Readonly<Record<string, unknown>>, policy: Policy, fpOf: (service: string) => FileProblems): void {
  const allowed = policy.get(stack.name) ?? new Set<string>();
  for (const [name, s] of Object.entries(stack.services)) {
    const fp = fpOf(name);
    const base: PathSegment[] = ['services', name];
    const raw = rawServices[name];
    const rawOf = (key: string): unknown[] => (isRecord(raw) && Array.isArray(raw[key]) ? raw[key] : []);
    const breaches: Breach[] = [];
    if (s.privileged) breaches.push({ path: [...base, 'privileged'], anchor: 'key', rule: 'privileged', why: '`privileged: true` gives the container every capability and all host devices' });
    if (s.networkMode === 'host') breaches.push({ path: [...base, 'network_mode'], anchor: 'key', rule: 'host_network', why: "`network_mode: host` shares the host's network stack" });
    if (s.pid === 'host') breaches.push({ path: [...base, 'pid'], anchor: 'key', rule: 'host_pid', why: "`pid: host` lets the container see and signal the host's processes" });
    if (s.ipc === 'host') breaches.push({ path: [...base, 'ipc'], anchor: 'key', rule: 'host_ipc', why: "`ipc: host` shares the host's IPC namespace" });
    const rawCaps = rawOf('cap_add');
    for (const cap of s.capAdd) {
      if (DEFAULT_CAPABILITIES.has(cap)) continue;
      const i = rawCaps.findIndex((c) => normalizeCap(c) === cap);
      breaches.push({ path: [...base, 'cap_add', Math.max(i, 0)], anchor: 'value', rule: `cap:${cap}`, why: `capability ${cap} is beyond Docker's default set` });
    }
    s.volumes.forEach((m, i) => {
      const b = mountBreach(m);
      if (b !== undefined) breaches.push({ path: [...base, 'volumes', i], anchor: 'value', ...b });
    });
    s.devices.forEach((d, i) => breaches.push({ path: [...base, 'devices', i], anchor: 'value', rule: `device:${d.source}`, why: `host device ${d.source} is passed into the container` }));
    s.securityOpt.forEach((opt, i) => {
      if (/unconfined$|^label[=:]disable$/.test(opt)) breaches.push({ path: [...base, 'security_opt', i], anchor: 'value', rule: 'unconfined', why: `security_opt ${JSON.stringify(opt)} turns off a confinement layer` });
    });
    for (const b of breaches) {
      if (allowed.has(b.rule)) continue;
      const token = /^[a-z_]+$/.test(b.rule) ? b.rule : JSON.stringify(b.rule);
      fp.error(b.path, `breaks policy rule ${b.rule}: ${b.why}`, `to allow it, add to capstan.yaml: policy: { stacks: { ${stack.name}: { allow: [${token}] } } }`, b.anchor);
    }
  }
}

/** Binds only: named volumes and tmpfs never reach host paths. Relative binds stay inside the repository. */
function mountBreach(m: MountSpec): { rule: string; why: string } | undefined {
  if (m.type !== 'bind' || m.relative) return undefined;
  const src = m.source.replace(/\/+$/, '') || '/';
  if (src.endsWith('/docker.sock') || src.endsWith('/containerd.sock')) return { rule: 'docker_socket', why: `bind-mounting ${src} gives the container control of the engine (root on the host)` };
  if (SENSITIVE_EXACT.has(src) || SENSITIVE_TREES.some((t) => src.startsWith(t))) return { rule: `host_path:${src}`, why: `bind-mounting ${src} exposes the host's system files` };
  // Read-only files like /etc/localtime are harmless; a writable one could rewrite the host's configuration.
  if (src.startsWith('/etc/') && !m.readOnly) return { rule: `host_path:${src}`, why: `a writable bind of ${src} could change the host's configuration (mount it read-only with :ro)` };
  return undefined;
}
