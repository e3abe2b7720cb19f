// The zod boundary for one Compose file: which keys are supported, their
// types, and the context-free folding of short/long syntaxes (ports,
// durations, sizes, command strings). Key names (unknown vs "not supported
// yet") are checked by keys.ts from the rules registered here.

import semver from 'semver';
import { z } from 'zod';
import type { DependsOnCondition, DeviceSpec, HealthcheckSpec, LoggingSpec, PortSpec, RestartPolicy, UlimitSpec } from './model.js';
import { parseExpose, parsePortNumber, parsePortShort } from './ports.js';
import { parsePullPolicy } from './pull-policy.js';
import { shellSplit } from './shell-split.js';
import { parseBytes, parseDurationMs, parseNanoCpus, parseNonNegativeInt } from './units.js';
import type { RawMount } from './volumes.js';
import { classifySource, homeBind, parseVolumeShort, VOLUME_NAME } from './volumes.js';
import { setOwn } from './own.js';

type Ctx = z.core.$RefinementCtx;

/** Reports a problem from inside a transform; `path` points below the transformed value (e.g. a long-syntax field). */
function fail(ctx: Ctx, input: unknown, message: string, path: PropertyKey[] = []): never {
  ctx.issues.push({ code: 'custom', message, input, path });
  return z.NEVER;
}

// ---- key rules -------------------------------------------------------------

export interface KeyRules {
  /** Keys Compose knows that Capstan does not implement yet, with a hint each. */
  unsupported: Readonly<Record<string, string>>;
  /** `x-*` keys allowed. */
  extensions: boolean;
}

export const keyRules = new WeakMap<object, KeyRules>();

const PLANNED = 'it is planned; remove it for now';

function unsupportedList(keys: readonly string[], special: Readonly<Record<string, string>> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = special[k] ?? PLANNED;
  return out;
}

function obj<S extends z.core.$ZodLooseShape>(shape: S, rules: Partial<KeyRules> = {}) {
  const schema = z.looseObject(shape);
  keyRules.set(schema, { unsupported: rules.unsupported ?? {}, extensions: rules.extensions ?? false });
  return schema;
}

// ---- scalars ---------------------------------------------------------------

const str = z.string({ error: 'expected a string' });
const strOrNum = z.union([z.string(), z.number()], { error: 'expected a string or a number' });
const scalarValue = z.union([z.string(), z.number(), z.boolean(), z.null()], { error: 'expected a string, number, boolean or null' });


const stringify = (v: string | number | boolean | null): string => (v === null ? '' : String(v));

export const duration = strOrNum.transform((v, ctx) => parseDurationMs(v) ?? fail(ctx, v, `invalid duration ${JSON.stringify(v)}; use e.g. "1m30s", "2s", "500ms"`));
const byteSize = strOrNum.transform((v, ctx) => parseBytes(v) ?? fail(ctx, v, `invalid size ${JSON.stringify(v)}; use e.g. "512m", "1g", "1024"`));
const nanoCpus = strOrNum.transform((v, ctx) => parseNanoCpus(v) ?? fail(ctx, v, `invalid cpus ${JSON.stringify(v)}; use e.g. "0.5" or 2`));
const nonNegativeInt = strOrNum.transform((v, ctx) => parseNonNegativeInt(v) ?? fail(ctx, v, `expected a whole number ≥ 0, got ${JSON.stringify(v)}`));
const boolish = z
  .union([z.boolean(), z.string()], { error: 'expected true or false' })
  .transform((v, ctx) => (typeof v === 'boolean' ? v : /^true$/i.test(v) ? true : /^false$/i.test(v) ? false : fail(ctx, v, `expected true or false, got ${JSON.stringify(v)}`)));

// ---- service fields --------------------------------------------------------

const argv = z
  .union([z.string(), z.array(strOrNum.transform(String))], { error: 'expected a string or a list of strings' })
  .transform((v, ctx) => (typeof v === 'string' ? (shellSplit(v) ?? fail(ctx, v, `unterminated quote in ${JSON.stringify(v)}`)) : v));

const ENV_KEY = /^[^=\s]+$/;

/** Value null means "take it from the operator's environment or .env". */
const environment = z
  .union([z.array(str), z.record(z.string(), scalarValue)], { error: 'expected a list of "KEY=value" or a mapping' })
  .transform((v, ctx) => {
    const out: Record<string, string | null> = {};
    const put = (k: string, val: string | null): void => setOwn(out, k, val);
    if (Array.isArray(v)) {
      for (const item of v) {
        const eq = item.indexOf('=');
        const key = eq < 0 ? item : item.slice(0, eq);
        if (!ENV_KEY.test(key)) return fail(ctx, item, `invalid environment entry ${JSON.stringify(item)}`);
        put(key, eq < 0 ? null : item.slice(eq + 1));
      }
    } else {
      for (const [k, val] of Object.entries(v)) put(k, val === null ? null : String(val));
    }
    return out;
  });

export interface EnvFileRef {
  path: string;
  required: boolean;
}
const envFileItem = z.union([str, obj({ path: str, required: boolish.optional(), format: z.literal('raw').optional() })], { error: 'expected a path or { path, required }' });
const envFile = z
  .union([str, z.array(envFileItem)], { error: 'expected a path or a list of paths' })
  .transform((v): EnvFileRef[] => (typeof v === 'string' ? [v] : v).map((e) => (typeof e === 'string' ? { path: e, required: true } : { path: e.path, required: e.required ?? true })));

const protocol = z.enum(['tcp', 'udp'], { error: 'protocol must be tcp or udp' });
const portLong = obj({
  target: strOrNum,
  published: strOrNum.optional(),
  host_ip: str.optional(),
  protocol: protocol.optional(),
  mode: z.enum(['ingress', 'host'], { error: 'mode must be ingress or host' }).optional(),
  name: str.optional(),
  app_protocol: str.optional(),
}).transform((p, ctx): PortSpec[] => {
  const target = parsePortNumber(p.target);
  if (target === undefined) return fail(ctx, p.target, `invalid container port ${JSON.stringify(p.target)}`, ['target']);
  const published = p.published === undefined || p.published === '' ? undefined : parsePortNumber(p.published);
  if (p.published !== undefined && p.published !== '' && published === undefined) {
    return fail(ctx, p.published, `invalid host port ${JSON.stringify(p.published)} (ranges are only supported in the short syntax)`, ['published']);
  }
  // `mode: host` is kept (the swarm backend publishes on each task's node); ingress is Swarm's default and left out.
  return [{ hostIp: p.host_ip ?? '', published, target, protocol: p.protocol ?? 'tcp', ...(p.mode === 'host' ? { mode: 'host' as const } : {}) }];
});
const port = z
  .union([strOrNum, portLong], { error: 'expected "published:target" or { target, published }' })
  .transform((v, ctx): PortSpec[] => {
    if (Array.isArray(v)) return v;
    const r = parsePortShort(v as string | number);
    return typeof r === 'string' ? fail(ctx, v, r) : r;
  });

const exposeItem = strOrNum.transform((v, ctx) => {
  const r = parseExpose(v);
  return typeof r === 'string' ? fail(ctx, v, r) : r;
});

const MOUNT_TYPES = ['bind', 'volume', 'tmpfs'] as const;
const volumeLong = obj(
  {
    type: z.string({ error: 'expected bind, volume or tmpfs' }),
    source: str.optional(),
    target: str,
    read_only: boolish.optional(),
    consistency: str.optional(),
    bind: obj({ propagation: str.optional(), create_host_path: boolish.optional(), selinux: z.enum(['z', 'Z']).optional() }).optional(),
    volume: obj({ nocopy: boolish.optional() }, { unsupported: unsupportedList(['subpath']) }).optional(),
    tmpfs: obj({ size: byteSize.optional(), mode: strOrNum.optional() }).optional(),
  },
  { extensions: true },
).transform((m, ctx): RawMount => {
  const type = (MOUNT_TYPES as readonly string[]).includes(m.type) ? (m.type as RawMount['type']) : undefined;
  if (type === undefined) {
    return ['npipe', 'cluster', 'image'].includes(m.type)
      ? fail(ctx, m.type, `volume type ${JSON.stringify(m.type)} is not supported yet`, ['type'])
      : fail(ctx, m.type, `volume type must be bind, volume or tmpfs, got ${JSON.stringify(m.type)}`, ['type']);
  }
  if (!m.target.startsWith('/')) return fail(ctx, m.target, `the container path ${JSON.stringify(m.target)} must be absolute`, ['target']);
  const source = m.source ?? '';
  if (type === 'tmpfs') return { type, source: '', target: m.target, readOnly: m.read_only ?? false };
  if (source === '' && type === 'volume') return { type, source: '', target: m.target, readOnly: m.read_only ?? false };
  if (source === '') return fail(ctx, m, 'a bind mount needs a `source`');
  const kind = classifySource(source);
  if (kind === 'home') {
    const home = homeBind(source, m.target, m.read_only ?? false, source);
    return typeof home === 'string' ? fail(ctx, source, home, ['source']) : home;
  }
  if (type === 'volume' && !VOLUME_NAME.test(source)) return fail(ctx, source, `invalid volume name ${JSON.stringify(source)}`, ['source']);
  // In the long syntax a bind source without "./" is still relative to the stack file.
  const bindSource = type === 'bind' && !source.startsWith('/') && !source.startsWith('.') ? `./${source}` : source;
  return { type, source: type === 'bind' ? bindSource : source, target: m.target, readOnly: m.read_only ?? false };
});
const volumeItem = z
  .union([str, volumeLong], { error: 'expected "source:target[:mode]" or { type, source, target }' })
  .transform((v, ctx): RawMount => {
    if (typeof v !== 'string') return v;
    const r = parseVolumeShort(v);
    return typeof r === 'string' ? fail(ctx, v, r) : r;
  });

const ipv4 = str.regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'expected an IPv4 address like 172.28.0.10');
const ipv6 = str.regex(/^[0-9a-fA-F:.]+$/, 'expected an IPv6 address like 2001:db8::10').refine((v) => v.includes(':'), 'expected an IPv6 address like 2001:db8::10');
const macAddress = str.regex(/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/, 'expected a MAC address like 02:42:ac:11:00:02');
const networkAttachment = obj(
  { aliases: z.array(str, { error: 'expected a list of names' }).nullish(), ipv4_address: ipv4.nullish(), ipv6_address: ipv6.nullish(), mac_address: macAddress.nullish() },
  { unsupported: unsupportedList(['link_local_ips', 'driver_opts', 'priority', 'gw_priority', 'interface_name']) },
).nullable();

/** A fixed address on one network: Docker's EndpointSettings.IPAMConfig and MacAddress. */
export interface NetworkAddressInput {
  ipv4: string | undefined;
  ipv6: string | undefined;
  mac: string | undefined;
}
const serviceNetworks = z
  .union([z.array(str), z.record(z.string(), networkAttachment)], { error: 'expected a list of network names or a mapping' })
  .transform((v) => {
    if (Array.isArray(v)) return { names: v, aliases: {}, addresses: {} };
    const aliases: Record<string, string[]> = {};
    const addresses: Record<string, NetworkAddressInput> = {};
    for (const [k, a] of Object.entries(v)) {
      if (a?.aliases !== undefined && a.aliases !== null && a.aliases.length > 0) setOwn(aliases, k, [...new Set(a.aliases)].sort());
      const address = { ipv4: a?.ipv4_address ?? undefined, ipv6: a?.ipv6_address ?? undefined, mac: a?.mac_address ?? undefined };
      if (address.ipv4 !== undefined || address.ipv6 !== undefined || address.mac !== undefined) setOwn(addresses, k, address);
    }
    return { names: Object.keys(v), aliases, addresses };
  });

const labels = z
  .union([z.array(str), z.record(z.string(), scalarValue)], { error: 'expected a list of "key=value" or a mapping' })
  .transform((v) => {
    const out: Record<string, string> = {};
    const entries: [string, string][] = Array.isArray(v)
      ? v.map((item) => {
          const eq = item.indexOf('=');
          return eq < 0 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)];
        })
      : Object.entries(v).map(([k, val]) => [k, stringify(val)]);
    for (const [k, val] of entries) setOwn(out, k, val);
    return out;
  });

const healthTest = z
  .union([z.string(), z.array(str).min(1, 'the test list must not be empty')], { error: 'expected a string or a list like ["CMD", "curl", "-f", "http://localhost"]' })
  .transform((v, ctx) => {
    if (typeof v === 'string') return ['CMD-SHELL', v];
    const head = v[0] ?? '';
    if (!['CMD', 'CMD-SHELL', 'NONE'].includes(head)) return fail(ctx, v, `a test list must start with "CMD", "CMD-SHELL" or "NONE", got ${JSON.stringify(head)}`);
    return v;
  });
const healthcheck = obj(
  {
    test: healthTest.optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    start_period: duration.optional(),
    retries: nonNegativeInt.optional(),
    start_interval: duration.optional(),
    disable: boolish.optional(),
  },
).transform((h): HealthcheckSpec => {
  if (h.disable === true) return { test: ['NONE'], intervalMs: undefined, timeoutMs: undefined, retries: undefined, startPeriodMs: undefined, startIntervalMs: undefined };
  // No test: keep the image's own HEALTHCHECK command, as Docker does for an empty test.
  return { test: h.test ?? [], intervalMs: h.interval, timeoutMs: h.timeout, retries: h.retries, startPeriodMs: h.start_period, startIntervalMs: h.start_interval };
});

const restart = z.string({ error: 'expected a restart policy' }).transform((v, ctx): RestartPolicy => {
  if (v === 'no' || v === 'always' || v === 'unless-stopped' || v === 'on-failure') return v;
  // Docker's maximum-retry count is not modelled yet; the policy itself is kept.
  if (/^on-failure:\d+$/.test(v)) return 'on-failure';
  return fail(ctx, v, `restart must be one of "no", "always", "on-failure[:N]", "unless-stopped", got ${JSON.stringify(v)}`);
});

const CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'] as const;
const dependsOnLong = obj({
  condition: z.enum(CONDITIONS, { error: `condition must be one of ${CONDITIONS.join(', ')}` }).optional(),
  restart: boolish.optional(),
  required: boolish.optional(),
}).nullable();
const dependsOn = z
  .union([z.array(str), z.record(z.string(), dependsOnLong)], { error: 'expected a list of service names or a mapping' })
  .transform((v) => {
    const out: Record<string, DependsOnCondition> = {};
    const entries: [string, DependsOnCondition][] = Array.isArray(v) ? v.map((s) => [s, 'service_started']) : Object.entries(v).map(([k, d]) => [k, d?.condition ?? 'service_started']);
    for (const [k, c] of entries) setOwn(out, k, c);
    return out;
  });

/** Fields left out keep DESIGN §4's defaults, filled in by normalize.ts. */
const updateConfig = obj({
  parallelism: nonNegativeInt.optional(),
  delay: duration.optional(),
  failure_action: z.enum(['rollback', 'pause', 'continue'], { error: 'failure_action must be rollback, pause or continue' }).optional(),
  monitor: duration.optional(),
  max_failure_ratio: z.union([z.number(), z.string()], { error: 'expected a number between 0 and 1' }).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : NaN;
    return Number.isFinite(n) && n >= 0 && n <= 1 ? n : fail(ctx, v, `max_failure_ratio must be a number between 0 and 1, got ${JSON.stringify(v)}`);
  }).optional(),
  order: z.enum(['start-first', 'stop-first'], { error: 'order must be start-first or stop-first' }).optional(),
});
export type UpdateConfigInput = z.output<typeof updateConfig>;

/** Swarm's restart policy: the docker backend folds it into the service-level one; the swarm backend passes it on whole. */
const restartPolicyLong = obj({
  condition: z.enum(['none', 'on-failure', 'any'], { error: 'condition must be none, on-failure or any' }).optional(),
  delay: duration.optional(),
  max_attempts: nonNegativeInt.optional(),
  window: duration.optional(),
});
export type RestartPolicyInput = z.output<typeof restartPolicyLong>;

/** The restart policy the docker engine applies for a Swarm-style `deploy.restart_policy`. */
export function engineRestart(r: RestartPolicyInput): RestartPolicy {
  return r.condition === 'none' ? 'no' : r.condition === 'on-failure' ? 'on-failure' : 'always';
}

/** `node.role == manager`, `node.labels.zone != b`: Swarm's constraint syntax, checked so a typo fails here and not at the manager. */
const placementConstraint = str.transform((v, ctx) =>
  /^\s*[A-Za-z0-9_.-]+\s*(==|!=)\s*\S.*$/.test(v) ? v.trim() : fail(ctx, v, `placement constraint ${JSON.stringify(v)} is not "<attribute> == <value>" or "<attribute> != <value>"`));
const placement = obj({
  constraints: z.array(placementConstraint, { error: 'expected a list of constraints like "node.role == manager"' }).optional(),
  preferences: z.array(obj({ spread: str }), { error: 'expected a list of { spread: node.labels.<label> }' }).optional(),
  max_replicas_per_node: nonNegativeInt.optional(),
});

const deploy = obj(
  {
    mode: z.enum(['replicated', 'global'], { error: 'deploy.mode must be replicated or global' }).optional(),
    replicas: nonNegativeInt.optional(),
    labels: labels.optional(),
    resources: obj({
      limits: obj({ cpus: nanoCpus.optional(), memory: byteSize.optional(), pids: nonNegativeInt.optional() }).optional(),
      // Reservations are scheduling hints for Swarm; accepted so existing files load, not enforced.
      reservations: obj({ cpus: nanoCpus.optional(), memory: byteSize.optional(), devices: z.array(z.unknown()).optional(), generic_resources: z.array(z.unknown()).optional() }).optional(),
    }).optional(),
    update_config: updateConfig.optional(),
    rollback_config: updateConfig.optional(),
    restart_policy: restartPolicyLong.optional(),
    // Scheduling and load-balancing of the swarm backend; `docker compose up` ignores them, and so does the docker backend.
    placement: placement.optional(),
    endpoint_mode: z.enum(['vip', 'dnsrr'], { error: 'endpoint_mode must be vip or dnsrr' }).optional(),
  },
  { extensions: true },
);
export type DeployInput = z.output<typeof deploy>;

const probePort = strOrNum.transform((v, ctx) => parsePortNumber(v) ?? fail(ctx, v, `invalid port ${JSON.stringify(v)}; expected 1-65535`));
const positiveInt = strOrNum.transform((v, ctx) => {
  const n = parseNonNegativeInt(v);
  return n !== undefined && n >= 1 ? n : fail(ctx, v, `expected a whole number ≥ 1, got ${JSON.stringify(v)}`);
});
/** x-capstan.probe (DESIGN §6): exactly one of http/tcp/exec, checked in normalize where the position is known. */
const probe = obj({
  http: obj({ path: str.optional(), port: probePort, host: str.optional() }).optional(),
  tcp: obj({ port: probePort }).optional(),
  exec: z.union([argv, obj({ command: argv })], { error: 'expected a command or { command }' }).optional(),
  interval: duration.optional(),
  timeout: duration.optional(),
  initial_delay: duration.optional(),
  success_threshold: positiveInt.optional(),
  failure_threshold: positiveInt.optional(),
});

/** x-capstan.image_update (DESIGN §2, §5): which newer tags Capstan may commit into the file. */
const imageUpdate = obj({
  semver: str.transform((v, ctx) => (semver.validRange(v) === null ? fail(ctx, v, `invalid semver range ${JSON.stringify(v)}; use e.g. "^1.4", "~2.0.1" or ">=1.2 <2"`) : v)),
  tag_pattern: str.transform((v, ctx) => {
    try {
      new RegExp(v);
      return v;
    } catch (err) {
      return fail(ctx, v, `invalid tag_pattern ${JSON.stringify(v)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }).optional(),
  interval: duration.optional(),
});


/** x-capstan.route (DESIGN §6): one route or a list, each on the shared HTTP entry. */
const route = obj({
  host: str.min(1, 'a host cannot be empty').optional(),
  path: str.startsWith('/', 'a path starts with "/"').optional(),
  port: probePort.optional(),
  sticky: boolish.optional(),
  // Checked with file:line in route-tls.ts, which knows the stack's secrets.
  tls: z.unknown().optional(),
  redirect_http: z.unknown().optional(),
});

const positiveNumber = strOrNum.transform((v, ctx) => {
  const n = typeof v === 'number' ? v : /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isFinite(n) && n > 0 ? n : fail(ctx, v, `expected a number > 0, got ${JSON.stringify(v)}`);
});
const ratio = strOrNum.transform((v, ctx) => {
  const n = typeof v === 'number' ? v : /^\d*\.?\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : fail(ctx, v, `expected a ratio between 0 and 1 (0.01 is 1 %), got ${JSON.stringify(v)}`);
});
const weight = strOrNum.transform((v, ctx) => {
  const n = parseNonNegativeInt(v);
  return n !== undefined && n >= 1 && n <= 100 ? n : fail(ctx, v, `a canary weight is a whole percentage from 1 to 100, got ${JSON.stringify(v)}`);
});
/** A step's pause: a duration, `manual` (waits for \`capstan promote\`), or absent (go on at once). */
const pause = strOrNum.transform((v, ctx): number | 'manual' => (v === 'manual' ? 'manual' : (parseDurationMs(v) ?? fail(ctx, v, `a pause is a duration like "30s" or "manual", got ${JSON.stringify(v)}`))));
const canaryStep = obj({ weight, pause: pause.optional() });
const analysis = obj({
  interval: duration.optional(),
  max_error_rate: ratio.optional(),
  max_p95_ms: positiveNumber.optional(),
  min_requests: nonNegativeInt.optional(),
  prometheus: obj({ url: str, query: str, max: z.number({ error: 'expected a number' }) }).optional(),
});
const canary = obj({ steps: z.array(canaryStep, { error: 'expected a list of steps like { weight: 10, pause: 30s }' }), analysis: analysis.optional() });
const blueGreen = obj({ scale_down_delay: duration.optional(), monitor: duration.optional(), pre_switch: probe.optional() });
const autoscale = obj({
  min: positiveInt,
  max: positiveInt,
  target_rps_per_replica: positiveNumber.optional(),
  target_cpu_percent: positiveNumber.optional(),
  cooldown: duration.optional(),
});
export type CanaryInput = z.output<typeof canary>;
export type BlueGreenInput = z.output<typeof blueGreen>;
export type AutoscaleInput = z.output<typeof autoscale>;

const capstan = obj({
  strategy: z.enum(['rolling', 'blue-green', 'canary'], { error: 'strategy must be rolling, blue-green or canary' }).optional(),
  progress_deadline: duration.optional(),
  probe: probe.optional(),
  canary: canary.optional(),
  blue_green: blueGreen.optional(),
  autoscale: autoscale.optional(),
  route: z.union([route, z.array(route, { error: 'expected a route or a list of routes' })], { error: 'expected { host, path, port, sticky } or a list of them' }).optional(),
  image_update: imageUpdate.optional(),
});

const stringList = z.array(str, { error: 'expected a list of strings' });
const oneOrMany = z.union([str, stringList], { error: 'expected a string or a list of strings' }).transform((v) => (typeof v === 'string' ? [v] : v));

const capability = str.transform((v) => v.trim().toUpperCase().replace(/^CAP_/, ''));
const capabilities = z.array(capability, { error: 'expected a list of capabilities like NET_ADMIN' }).transform((v) => [...new Set(v)].sort());

/** -1 is "unlimited", as in Docker (e.g. Elasticsearch's memlock). */
const ulimitNumber = strOrNum.transform((v, ctx) => (String(v).trim() === '-1' ? -1 : (parseNonNegativeInt(v) ?? fail(ctx, v, `expected a whole number ≥ 0 or -1 (unlimited), got ${JSON.stringify(v)}`))));
const ulimitValue = z
  .union([ulimitNumber, obj({ soft: ulimitNumber, hard: ulimitNumber })], { error: 'expected a number or { soft, hard }' })
  .transform((v, ctx): UlimitSpec => {
    if (typeof v === 'number') return { soft: v, hard: v };
    const above = v.hard !== -1 && (v.soft === -1 || v.soft > v.hard);
    return above ? fail(ctx, v, `soft limit ${v.soft} is above hard limit ${v.hard}`) : v;
  });
const ulimits = z.record(z.string(), ulimitValue, { error: 'expected a mapping like { nofile: { soft: 1024, hard: 4096 } }' });

const tmpfs = oneOrMany.transform((v, ctx) => {
  const out: Record<string, string> = {};
  for (const item of v) {
    const colon = item.indexOf(':');
    const path = colon < 0 ? item : item.slice(0, colon);
    if (!path.startsWith('/')) return fail(ctx, item, `the tmpfs path ${JSON.stringify(path)} must be absolute`);
    setOwn(out, path, colon < 0 ? '' : item.slice(colon + 1));
  }
  return out;
});

/** "host:ip", "host=ip" or { host: ip | [ip] } → Docker's "host:ip" (the first ':' or '=' separates, so IPv6 addresses survive). */
const extraHosts = z
  .union([stringList, z.record(z.string(), oneOrMany)], { error: 'expected a list of "host:ip" or a mapping of host to ip' })
  .transform((v, ctx) => {
    if (!Array.isArray(v)) return Object.entries(v).flatMap(([host, ips]) => ips.map((ip) => `${host}:${ip}`));
    return v.map((item, i) => {
      const m = /^([^:=\s]+)[:=](.+)$/.exec(item.trim());
      return m === null ? fail(ctx, item, `invalid extra host ${JSON.stringify(item)}; expected "host:ip"`, [i]) : `${m[1] ?? ''}:${m[2] ?? ''}`;
    });
  });

const logging = obj({ driver: str.optional(), options: z.record(z.string(), scalarValue.transform(stringify), { error: 'expected a mapping of options' }).nullish() }).transform(
  (l): LoggingSpec => ({ driver: l.driver, options: l.options ?? {} }),
);

const deviceLong = obj({ source: str, target: str.optional(), permissions: str.optional() });
const device = z.union([str, deviceLong], { error: 'expected "/dev/host[:/dev/container[:rwm]]" or { source, target, permissions }' }).transform((v, ctx): DeviceSpec => {
  const [source = '', target, permissions] = typeof v === 'string' ? v.split(':') : [v.source, v.target, v.permissions];
  if (!source.startsWith('/')) return fail(ctx, v, `device ${JSON.stringify(source)} must be an absolute host path like /dev/ttyUSB0`);
  if (permissions !== undefined && !/^[rwm]+$/.test(permissions)) return fail(ctx, v, `device permissions must be made of r, w and m, got ${JSON.stringify(permissions)}`);
  return { source, target: target === undefined || target === '' ? source : target, permissions: permissions ?? 'rwm' };
});

const NETWORK_MODES = ['host', 'none', 'bridge'];
const networkMode = str.transform((v, ctx) =>
  NETWORK_MODES.includes(v)
    ? v
    : /^(service|container):/.test(v)
      ? fail(ctx, v, `network_mode ${JSON.stringify(v)} (sharing another container's network) is not supported yet`)
      : fail(ctx, v, `network_mode must be host, none or bridge, got ${JSON.stringify(v)}`),
);
const namespaceMode = (key: string, modes: readonly string[]) =>
  str.transform((v, ctx) =>
    modes.includes(v)
      ? v
      : /^(service|container):/.test(v)
        ? fail(ctx, v, `${key} ${JSON.stringify(v)} (sharing another container's namespace) is not supported yet`)
        : fail(ctx, v, `${key} must be ${modes.join(', ')}, got ${JSON.stringify(v)}`),
  );

const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Compose service keys Capstan does not implement yet. Anything else unknown is a typo. */
export const SERVICE_UNSUPPORTED = unsupportedList(
  [
    'annotations', 'attach', 'blkio_config', 'cgroup', 'cgroup_parent',
    'cpu_count', 'cpu_percent', 'cpu_period', 'cpu_quota', 'cpu_rt_period', 'cpu_rt_runtime', 'cpu_shares', 'cpus', 'cpuset',
    'credential_spec', 'develop', 'device_cgroup_rules', 'dns_opt', 'dns_search', 'domainname', 'driver_opts',
    'external_links', 'gpus', 'group_add', 'isolation', 'label_file', 'links',
    'mac_address', 'mem_limit', 'mem_reservation', 'mem_swappiness', 'memswap_limit', 'models',
    'oom_kill_disable', 'oom_score_adj', 'pids_limit', 'post_start', 'pre_stop',
    'provider', 'pull_refresh_after', 'scale', 'storage_opt', 'use_api_socket', 'userns_mode', 'uts', 'volumes_from',
  ],
  {
    scale: 'use `deploy.replicas`',
    cpus: 'use `deploy.resources.limits.cpus`',
    mem_limit: 'use `deploy.resources.limits.memory`',
    pids_limit: 'use `deploy.resources.limits.pids`',
    links: 'services reach each other by name on the stack network; remove it',
  },
);

/** `build:` short (the context path) and long form; the context is resolved against the repository in build.ts. */
const buildLong = obj(
  {
    context: str.optional(),
    dockerfile: str.optional(),
    dockerfile_inline: str.optional(),
    args: environment.nullish(),
    target: str.optional(),
    labels: labels.nullish(),
  },
  {
    unsupported: unsupportedList(
      ['additional_contexts', 'cache_from', 'cache_to', 'entitlements', 'extra_hosts', 'isolation', 'network', 'no_cache', 'platforms', 'privileged', 'provenance', 'pull', 'sbom', 'secrets', 'shm_size', 'ssh', 'tags', 'ulimits'],
      { network: 'builds use the engine\'s default network; remove it', pull: 'the base image must be on the engine already (Capstan never pulls for a build); remove it' },
    ),
    extensions: true,
  },
);
export const buildSchema = z.union([str, buildLong], { error: 'expected a context path or { context, dockerfile, args, target }' });
export type BuildInput = z.output<typeof buildSchema>;

/** Octal as Compose reads it: 440, 0440 and "0440" all mean r--r-----. */
const fileMode = strOrNum.transform((v, ctx) => {
  const digits = String(v).trim().replace(/^0o?/, '');
  return /^[0-7]{1,4}$/.test(digits) ? parseInt(digits, 8) : fail(ctx, v, `mode must be octal permission bits like 0440, got ${JSON.stringify(v)}`);
});
const ownerId = strOrNum.transform((v, ctx) => parseNonNegativeInt(v) ?? fail(ctx, v, `expected a numeric user or group id, got ${JSON.stringify(v)}`));
const fileRefLong = obj({ source: str, target: str.optional(), uid: ownerId.optional(), gid: ownerId.optional(), mode: fileMode.optional() });
/** A service's `secrets:` / `configs:` entry: a name, or { source, target, uid, gid, mode }. */
const fileRefs = z
  .array(z.union([str, fileRefLong], { error: 'expected a name or { source, target, uid, gid, mode }' }), { error: 'expected a list' })
  .transform((v) => v.map((r) => (typeof r === 'string' ? { source: r } : r)));
export type FileRefInput = z.output<typeof fileRefs>[number];

export const serviceSchema = obj(
  {
    image: z.string({ error: 'expected a string' }).min(1, 'image must not be empty').optional(),
    build: buildSchema.nullish(),
    pull_policy: str.transform((v, ctx) => {
      const p = parsePullPolicy(v);
      return typeof p === 'string' ? fail(ctx, v, p) : p;
    }).nullish(),
    secrets: fileRefs.nullish(),
    configs: fileRefs.nullish(),
    command: argv.nullish(),
    entrypoint: argv.nullish(),
    environment: environment.nullish(),
    env_file: envFile.nullish(),
    ports: z.array(port, { error: 'expected a list of ports' }).nullish(),
    expose: z.array(exposeItem, { error: 'expected a list of ports' }).nullish(),
    volumes: z.array(volumeItem, { error: 'expected a list of volumes' }).nullish(),
    networks: serviceNetworks.nullish(),
    labels: labels.nullish(),
    healthcheck: healthcheck.nullish(),
    restart: restart.nullish(),
    user: strOrNum.transform(String).nullish(),
    working_dir: str.nullish(),
    stop_signal: str.nullish(),
    stop_grace_period: duration.nullish(),
    depends_on: dependsOn.nullish(),
    deploy: deploy.nullish(),
    'x-capstan': capstan.nullish(),
    container_name: str.regex(CONTAINER_NAME, 'a container name uses letters, digits, "_", "." or "-", at least two characters, starting with a letter or digit').nullish(),
    hostname: str.nullish(),
    cap_add: capabilities.nullish(),
    cap_drop: capabilities.nullish(),
    sysctls: labels.nullish(),
    ulimits: ulimits.nullish(),
    tmpfs: tmpfs.nullish(),
    read_only: boolish.nullish(),
    shm_size: byteSize.nullish(),
    init: boolish.nullish(),
    tty: boolish.nullish(),
    stdin_open: boolish.nullish(),
    extra_hosts: extraHosts.nullish(),
    dns: oneOrMany.nullish(),
    logging: logging.nullish(),
    platform: str.nullish(),
    runtime: str.nullish(),
    security_opt: stringList.nullish(),
    devices: z.array(device, { error: 'expected a list of devices' }).nullish(),
    privileged: boolish.nullish(),
    network_mode: networkMode.nullish(),
    pid: namespaceMode('pid', ['host']).nullish(),
    ipc: namespaceMode('ipc', ['host', 'private', 'shareable', 'none']).nullish(),
    profiles: z.array(str.regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a profile name uses letters, digits, "_", "." or "-"'), { error: 'expected a list of profile names' }).nullish(),
  },
  { unsupported: SERVICE_UNSUPPORTED, extensions: true },
);
export type ServiceInput = z.output<typeof serviceSchema>;

const externalFlag = z.union([boolish, obj({ name: str.optional() })], { error: 'expected true or false' });

/** Compose's `ipam:` as Docker's network create takes it; a network's own ipam always wins over any subnet Capstan would pick. */
const ipamPool = obj({ subnet: str.optional(), ip_range: str.optional(), gateway: str.optional(), aux_addresses: z.record(z.string(), str).optional() });
const ipam = obj({ driver: str.optional(), config: z.array(ipamPool, { error: 'expected a list of { subnet, ip_range, gateway }' }).optional(), options: z.record(z.string(), str).optional() });
export type IpamInput = z.output<typeof ipam>;
const networkDef = obj(
  { name: str.optional(), external: externalFlag.optional(), driver: str.optional(), labels: labels.optional(), internal: boolish.optional(), ipam: ipam.optional(), enable_ipv6: boolish.optional() },
  { unsupported: unsupportedList(['driver_opts', 'attachable']), extensions: true },
).nullable();
const volumeDef = obj(
  { name: str.optional(), external: externalFlag.optional(), driver: str.optional(), labels: labels.optional() },
  { unsupported: unsupportedList(['driver_opts']), extensions: true },
).nullable();
export type ResourceDef = z.output<typeof networkDef>;

const SWARM_ONLY = 'it belongs to Swarm\'s secret store; the docker backend reads `file:` or `environment:`';
/** Top-level `secrets:` / `configs:`: where the content comes from; which one is checked in files.ts, where positions are known. */
const fileDefShape = { file: str.optional(), environment: str.optional(), external: externalFlag.optional(), name: str.optional() };
const fileDefRules = {
  unsupported: unsupportedList(['driver', 'driver_opts', 'template_driver', 'labels'], { driver: SWARM_ONLY, driver_opts: SWARM_ONLY, template_driver: SWARM_ONLY, labels: 'labels of secrets and configs exist on Swarm only; remove them' }),
  extensions: true,
};
const secretDef = obj(fileDefShape, fileDefRules).nullable();
const configDef = obj({ ...fileDefShape, content: str.optional() }, fileDefRules).nullable();
export interface FileDefInput {
  file?: string | undefined;
  environment?: string | undefined;
  content?: string | undefined;
  external?: boolean | { name?: string | undefined } | undefined;
  name?: string | undefined;
}

/** `include:` entries: a path, or { path, project_directory, env_file }. */
const includeItem = z.union(
  [str, obj({ path: z.union([str, z.array(str).min(1, 'the path list must not be empty')], { error: 'expected a path or a list of paths' }), project_directory: str.optional(), env_file: z.union([str, z.array(str)], { error: 'expected a path or a list of paths' }).optional() })],
  { error: 'expected a path or { path, project_directory, env_file }' },
);
export type IncludeInput = z.output<typeof includeItem>;

/** Services are validated one by one (serviceSchema) so one broken service does not hide the others' problems. */
export const stackSchema = obj(
  {
    name: str.optional(),
    version: strOrNum.optional(),
    services: z.record(z.string(), z.unknown(), { error: 'expected a mapping of service names to services' }).nullish(),
    networks: z.record(z.string(), networkDef, { error: 'expected a mapping of network names' }).nullish(),
    volumes: z.record(z.string(), volumeDef, { error: 'expected a mapping of volume names' }).nullish(),
    secrets: z.record(z.string(), secretDef, { error: 'expected a mapping of secret names' }).nullish(),
    configs: z.record(z.string(), configDef, { error: 'expected a mapping of config names' }).nullish(),
    include: z.array(includeItem, { error: 'expected a list of files to include' }).nullish(),
  },
  {
    unsupported: unsupportedList(['models']),
    extensions: true,
  },
);
export type StackInput = z.output<typeof stackSchema>;
