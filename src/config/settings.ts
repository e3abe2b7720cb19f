// The operator's settings: one zod schema at the boundary turns flags, env
// and capstan.yaml into a frozen, typed value (precedence: flags > env >
// file > defaults, DESIGN §8). Past this point code trusts its types.

import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseDurationMs } from '../manifests/units.js';
import { parseAuthor } from '../source/author.js';
import { parseCron } from '../schedule/cron.js';
import { parseSyncWindow, type SyncWindow } from './sync-window.js';
import { parseAdminAddress, type TcpAdminAddress } from '../router/address.js';
import { DEFAULT_LIMITS, trustedProxyProblem, type EdgeLimits } from '../router/limits.js';
import { VERSION } from '../version.js';
import { formatCidr, parseCidr, type SubnetPoolSpec } from '../backends/docker/cidr.js';

/**
 * Stack networks' subnets by default: /24s from a /16 outside Docker's own
 * pools (172.17-31.x, 192.168.x), the usual home and office LANs (10.0.x,
 * 10.1.x, 10.10.x, 192.168.x), Kubernetes' (10.96/12, 10.244/16) and CGNAT
 * (100.64/10): 10.231.0.0/16. Whatever the host or engine uses inside it is skipped anyway.
 */
const DEFAULT_SUBNET_POOL = { base: (10 << 24) + (231 << 16), prefix: 16 };

export interface Settings {
  repo: string | undefined;
  branch: string;
  path: string;
  intervalMs: number;
  instance: string;
  dataDir: string;
  statusBranch: string;
  httpPort: number;
  router: 'process' | 'container' | 'none';
  /** The image `--router container` runs. */
  routerImage: string;
  /** The router's admin API on the loopback with a token; undefined: the unix socket in <data-dir>/router. */
  routerAdmin: TcpAdminAddress | undefined;
  /** CAPSTAN_ROUTER_TOKEN, from the environment only: the admin token of a TCP admin API (else the router generates one). */
  routerToken: string | undefined;
  /** The router's timeouts, connection caps and trusted proxies. */
  routerLimits: EdgeLimits;
  /** The router's HTTPS entry, open while some route has `tls`. */
  httpsPort: number;
  /** For routes with `tls: { acme: true }`: the ACME directory, the account's contact, and a CA to trust for the directory (a test server's). */
  acme: { directory: string; email: string | undefined; caFile: string | undefined } | undefined;
  listen: string;
  backend: 'docker' | 'swarm';
  logFormat: 'json' | 'pretty';
  logLevel: string;
  /** Most engine operations in flight at once during a pass. */
  parallelism: number;
  /** Names (or `PREFIX_*` patterns) of operator environment variables manifests may interpolate. */
  allowEnv: readonly string[];
  /** Author (and committer) of the commits Capstan pushes: status, rollback, auto-revert. */
  gitAuthor: { name: string; email: string };
  /** Push a revert of a revision whose apply failed (DESIGN §5). */
  autoRevert: boolean;
  /** Periodic full resync: every `ms`, or on a cron schedule (DESIGN §6: one setting, default 5m). */
  resync: Resync;
  /** When changes may be applied; empty: always. */
  syncWindows: readonly SyncWindow[];
  /** CAPSTAN_WEBHOOK_SECRET, from the environment only (never a flag: argv is visible to every user). */
  webhookSecret: string | undefined;
  /** CAPSTAN_API_TOKEN, from the environment only: the HTTP API's token (server/api-token.ts says where else it comes from). */
  apiToken: string | undefined;
  /** CAPSTAN_API_TOKEN_FILE, from the environment only: a 0600 file holding the API token. */
  apiTokenFile: string | undefined;
  /** --metrics-public: /metrics answers without the API token (for a Prometheus that cannot send one). */
  metricsPublic: boolean;
  /** CAPSTAN_AGE_KEY_FILE: the age identities that decrypt `*.age` secrets; from the environment only, like every credential. */
  ageKeyFile: string | undefined;
  /** Active Compose profiles: services with `profiles:` run only when one of theirs is listed ("*" = all). */
  profiles: readonly string[];
  /** The one operator-host directory manifests may read secret and config files from (absolute `file:`); none by default. */
  secretsDir: string | undefined;
  /** The operator's policy file (--policy); from a flag or the environment only, never a settings file, which a repository may provide. */
  policy: string | undefined;
  /** Where stack networks without an ipam of their own get their subnet; undefined (`--subnet-pool none`): the engine's default pools. */
  subnetPool: SubnetPoolSpec | undefined;
  /** Commit statuses per stack on each deployed sha: `auto` when the repository URL names a known forge and a token is set. */
  commitStatus: 'auto' | 'github' | 'gitlab' | 'gitea' | 'off';
  /** The forge's API base when it cannot be derived from --repo (self-hosted, or a local test server). */
  forgeApi: string | undefined;
  /** `owner/name` on the forge when it differs from --repo's path. */
  forgeRepo: string | undefined;
  /** Link of every commit status (e.g. the dashboard). */
  statusUrl: string | undefined;
  /** CAPSTAN_FORGE_TOKEN, else CAPSTAN_GIT_TOKEN; from the environment only. */
  forgeToken: string | undefined;
  /** Generic JSON webhook for deploy events. */
  notifyWebhook: string | undefined;
  /** CAPSTAN_NOTIFY_WEBHOOK_SECRET: signs the generic webhook's body; environment only. */
  notifyWebhookSecret: string | undefined;
  /** CAPSTAN_SLACK_WEBHOOK_URL: a Slack-compatible incoming webhook; environment only (its path is its secret). */
  slackWebhookUrl: string | undefined;
  /** Lead only while holding a lease container on the engine too: for operators that share the engine but not the data dir. */
  engineLease: boolean;
  /** The image of the lease container (it runs `cat`); default the router image. */
  leaseImage: string;
  /** Where x-capstan.image_update commits go; undefined: `branch` itself (deployed at once). */
  imageUpdateBranch: string | undefined;
}

export type Resync = { kind: 'interval'; ms: number } | { kind: 'cron'; expression: string };

/** Each setting: its flag name (camelCase as commander gives it), env var, and capstan.yaml key. */
const SOURCES = {
  repo: 'CAPSTAN_REPO',
  branch: 'CAPSTAN_BRANCH',
  path: 'CAPSTAN_PATH',
  interval: 'CAPSTAN_INTERVAL',
  instance: 'CAPSTAN_INSTANCE',
  dataDir: 'CAPSTAN_DATA_DIR',
  statusBranch: 'CAPSTAN_STATUS_BRANCH',
  httpPort: 'CAPSTAN_HTTP_PORT',
  httpsPort: 'CAPSTAN_HTTPS_PORT',
  acmeDirectory: 'CAPSTAN_ACME_DIRECTORY',
  acmeEmail: 'CAPSTAN_ACME_EMAIL',
  acmeCa: 'CAPSTAN_ACME_CA',
  router: 'CAPSTAN_ROUTER',
  routerImage: 'CAPSTAN_ROUTER_IMAGE',
  routerAdmin: 'CAPSTAN_ROUTER_ADMIN',
  listen: 'CAPSTAN_LISTEN',
  backend: 'CAPSTAN_BACKEND',
  logFormat: 'CAPSTAN_LOG_FORMAT',
  logLevel: 'CAPSTAN_LOG_LEVEL',
  parallelism: 'CAPSTAN_PARALLELISM',
  allowEnv: 'CAPSTAN_ALLOW_ENV',
  gitAuthor: 'CAPSTAN_GIT_AUTHOR',
  autoRevert: 'CAPSTAN_AUTO_REVERT',
  resync: 'CAPSTAN_RESYNC',
  syncWindow: 'CAPSTAN_SYNC_WINDOW',
  profiles: 'COMPOSE_PROFILES',
  secretsDir: 'CAPSTAN_SECRETS_DIR',
  policy: 'CAPSTAN_POLICY',
  headTimeout: 'CAPSTAN_HEAD_TIMEOUT',
  bodyTimeout: 'CAPSTAN_BODY_TIMEOUT',
  keepAliveTimeout: 'CAPSTAN_KEEP_ALIVE_TIMEOUT',
  tunnelIdleTimeout: 'CAPSTAN_TUNNEL_IDLE_TIMEOUT',
  l4IdleTimeout: 'CAPSTAN_L4_IDLE_TIMEOUT',
  maxConnections: 'CAPSTAN_MAX_CONNECTIONS',
  maxConnectionsPerIp: 'CAPSTAN_MAX_CONNECTIONS_PER_IP',
  trustedProxies: 'CAPSTAN_TRUSTED_PROXIES',
  subnetPool: 'CAPSTAN_SUBNET_POOL',
  subnetSize: 'CAPSTAN_SUBNET_SIZE',
  commitStatus: 'CAPSTAN_COMMIT_STATUS',
  forgeApi: 'CAPSTAN_FORGE_API',
  forgeRepo: 'CAPSTAN_FORGE_REPO',
  statusUrl: 'CAPSTAN_STATUS_URL',
  notifyWebhook: 'CAPSTAN_NOTIFY_WEBHOOK',
  engineLease: 'CAPSTAN_ENGINE_LEASE',
  leaseImage: 'CAPSTAN_LEASE_IMAGE',
  imageUpdateBranch: 'CAPSTAN_IMAGE_UPDATE_BRANCH',
  metricsPublic: 'CAPSTAN_METRICS_PUBLIC',
} as const;

export type SettingName = keyof typeof SOURCES;
export type RawSettings = Partial<Record<SettingName, unknown>>;

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDurationMs(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (use e.g. 30s, 5m, 1h)` });
    return z.NEVER;
  }
  return ms;
});
const port = z.coerce.number().int().min(0).max(65535);
const connections = z.coerce.number().int().min(1).max(1_000_000);
const proxies = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  const entries = (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== '');
  for (const e of entries) {
    const problem = trustedProxyProblem(e);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  }
  return Object.freeze(entries);
});
const flag = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/, 'use an http(s) URL');
const list = z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== ''));

const resync = z.string().transform((v, ctx): Resync => {
  const ms = parseDurationMs(v);
  if (ms !== undefined && ms > 0) return { kind: 'interval', ms };
  const schedule = parseCron(v);
  if (typeof schedule !== 'string') return { kind: 'cron', expression: schedule.text };
  const fields = v.trim().split(/\s+/).length;
  ctx.addIssue({ code: 'custom', message: fields === 5 || fields === 6 ? schedule : `"${v}" is neither a duration (5m) nor a cron expression ("*/10 * * * *")` });
  return z.NEVER;
});
// Several windows: repeated flags, a YAML list, or `;`-separated in the env (cron fields use commas).
const windows = z.union([z.string(), z.array(z.string())]).transform((v, ctx) => {
  const out: SyncWindow[] = [];
  for (const text of (typeof v === 'string' ? v.split(';') : v).filter((t) => t.trim() !== '')) {
    const parsed = parseSyncWindow(text);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    else out.push(parsed);
  }
  return Object.freeze(out);
});

const schema = z.object({
  repo: z.string().min(1).optional(),
  branch: z.string().min(1).default('main'),
  path: z.string().default('stacks'),
  interval: duration.default(30_000),
  instance: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'use lowercase letters, digits, ".", "_" and "-"').default('default'),
  dataDir: z.string().min(1).default('.capstan'),
  statusBranch: z.string().min(1).default('capstan/status'),
  httpPort: port.default(8000),
  httpsPort: port.default(8443),
  acmeDirectory: z.string().url('use the directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory').optional(),
  acmeEmail: z.string().email().optional(),
  acmeCa: z.string().min(1).optional(),
  router: z.enum(['process', 'container', 'none']).default('process'),
  routerImage: z.string().min(1).default(`capstan:${VERSION}`),
  routerAdmin: z.string().transform((v, ctx) => {
    const parsed = parseAdminAddress(v);
    if (parsed.ok) return parsed.address;
    ctx.addIssue({ code: 'custom', message: parsed.error });
    return z.NEVER;
  }).optional(),
  listen: z.string().regex(/^[^:]+:\d+$/, 'use HOST:PORT, e.g. 127.0.0.1:9420').default('127.0.0.1:9420'),
  backend: z.enum(['docker', 'swarm']).default('docker'),
  logFormat: z.enum(['json', 'pretty']).default('json'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  parallelism: z.coerce.number().int().min(1).max(256).default(32),
  allowEnv: list.default([]),
  gitAuthor: z
    .string()
    .transform((v, ctx) => {
      const author = parseAuthor(v);
      if (author === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not "Name <email>"` });
        return z.NEVER;
      }
      return author;
    })
    .default({ name: 'Capstan', email: 'capstan@localhost' }),
  autoRevert: flag.default(false),
  metricsPublic: flag.default(false),
  engineLease: flag.default(false),
  leaseImage: z.string().min(1).optional(),
  resync: resync.default({ kind: 'interval', ms: 300_000 }),
  syncWindow: windows.default([]),
  profiles: list.default([]),
  secretsDir: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
  headTimeout: duration.default(DEFAULT_LIMITS.headTimeoutMs),
  bodyTimeout: duration.default(DEFAULT_LIMITS.bodyTimeoutMs),
  keepAliveTimeout: duration.default(DEFAULT_LIMITS.keepAliveTimeoutMs),
  tunnelIdleTimeout: duration.default(DEFAULT_LIMITS.tunnelIdleTimeoutMs),
  l4IdleTimeout: duration.default(DEFAULT_LIMITS.l4IdleTimeoutMs),
  maxConnections: connections.default(DEFAULT_LIMITS.maxConnections),
  maxConnectionsPerIp: connections.default(DEFAULT_LIMITS.maxConnectionsPerIp),
  trustedProxies: proxies.default(DEFAULT_LIMITS.trustedProxies),
  // `none` is null here: zod would put the default in place of an undefined.
  subnetPool: z.string().transform((v, ctx) => {
    if (v === 'none') return null;
    const parsed = parseCidr(v);
    if (typeof parsed !== 'string') return parsed;
    ctx.addIssue({ code: 'custom', message: `${parsed}, or none` });
    return z.NEVER;
  }).default(DEFAULT_SUBNET_POOL),
  subnetSize: z.coerce.number().int().min(8).max(29).default(24),
  commitStatus: z.enum(['auto', 'github', 'gitlab', 'gitea', 'off']).default('auto'),
  forgeApi: httpUrl.optional(),
  forgeRepo: z.string().regex(/^[^/\s]+(\/[^/\s]+)+$/, 'use owner/name (GitLab: group/subgroup/name)').optional(),
  statusUrl: httpUrl.optional(),
  notifyWebhook: httpUrl.optional(),
  imageUpdateBranch: z.string().min(1).optional(),
});

/**
 * Merge the layers and validate. `flags` are what the user typed (undefined
 * when not given), `env` the process environment, `file` the parsed
 * capstan.yaml (keys as in SOURCES, kebab-case or camelCase).
 */
export function resolveSettings(flags: RawSettings, env: NodeJS.ProcessEnv, file: Record<string, unknown> = {}): Settings {
  const merged: Record<string, unknown> = {};
  for (const [name, envName] of Object.entries(SOURCES) as [SettingName, string][]) {
    // `policy:` of a capstan.yaml is the repository's own policy section, not the operator's file.
    const fromFile = name === 'policy' ? undefined : (file[name] ?? file[kebab(name)]);
    const value = flags[name] ?? env[envName] ?? fromFile;
    if (value !== undefined && value !== '') merged[name] = value;
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? '') as SettingName;
    const where = name in SOURCES ? `--${kebab(name)} (${SOURCES[name]})` : 'settings';
    throw new ConfigError(`${where}: ${issue?.message ?? 'invalid'}`, 'run `capstan --help` for the accepted values');
  }
  const { acmeDirectory, acmeEmail, acmeCa, ...settled } = parsed.data;
  if (acmeDirectory === undefined && (acmeEmail !== undefined || acmeCa !== undefined)) {
    throw new ConfigError('--acme-email and --acme-ca need --acme-directory', 'set --acme-directory (CAPSTAN_ACME_DIRECTORY) to the ACME directory URL');
  }
  const acme = acmeDirectory === undefined ? undefined : Object.freeze({ directory: acmeDirectory, email: acmeEmail, caFile: acmeCa });
  const { interval, syncWindow, subnetPool, subnetSize, headTimeout, bodyTimeout, keepAliveTimeout, tunnelIdleTimeout, l4IdleTimeout, maxConnections, maxConnectionsPerIp, trustedProxies, ...rest } = settled;
  const routerLimits: EdgeLimits = Object.freeze({
    headTimeoutMs: headTimeout, bodyTimeoutMs: bodyTimeout, keepAliveTimeoutMs: keepAliveTimeout, tunnelIdleTimeoutMs: tunnelIdleTimeout, l4IdleTimeoutMs: l4IdleTimeout,
    maxConnections, maxConnectionsPerIp, trustedProxies,
  });
  if (subnetPool !== null && subnetSize < subnetPool.prefix) {
    throw new ConfigError(`--subnet-size ${subnetSize} (CAPSTAN_SUBNET_SIZE): subnets cannot be larger than their pool ${formatCidr(subnetPool)}`, `use a --subnet-size of ${subnetPool.prefix} or more (default 24)`);
  }
  const webhookSecret = env['CAPSTAN_WEBHOOK_SECRET'] === '' ? undefined : env['CAPSTAN_WEBHOOK_SECRET'];
  const fromEnv = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const routerToken = fromEnv('CAPSTAN_ROUTER_TOKEN');
  return Object.freeze({
    ...rest,
    intervalMs: interval,
    repo: rest.repo,
    secretsDir: rest.secretsDir,
    policy: rest.policy,
    imageUpdateBranch: rest.imageUpdateBranch,
    allowEnv: Object.freeze(rest.allowEnv),
    gitAuthor: Object.freeze(rest.gitAuthor),
    syncWindows: syncWindow,
    profiles: Object.freeze(rest.profiles),
    routerAdmin: rest.routerAdmin === undefined ? undefined : Object.freeze(rest.routerAdmin),
    webhookSecret,
    ageKeyFile: env['CAPSTAN_AGE_KEY_FILE'] === '' ? undefined : env['CAPSTAN_AGE_KEY_FILE'],
    routerToken,
    routerLimits,
    acme,
    subnetPool: subnetPool === null ? undefined : Object.freeze({ pool: Object.freeze(subnetPool), size: subnetSize }),
    leaseImage: rest.leaseImage ?? rest.routerImage,
    forgeApi: rest.forgeApi,
    forgeRepo: rest.forgeRepo,
    statusUrl: rest.statusUrl,
    notifyWebhook: rest.notifyWebhook,
    forgeToken: fromEnv('CAPSTAN_FORGE_TOKEN') ?? fromEnv('CAPSTAN_GIT_TOKEN'),
    notifyWebhookSecret: fromEnv('CAPSTAN_NOTIFY_WEBHOOK_SECRET'),
    slackWebhookUrl: fromEnv('CAPSTAN_SLACK_WEBHOOK_URL'),
    apiToken: fromEnv('CAPSTAN_API_TOKEN'),
    apiTokenFile: fromEnv('CAPSTAN_API_TOKEN_FILE'),
  });
}

/** The operator environment a manifest may see: only the allowed names, never Capstan's own (credentials live there). */
export function allowedEnvironment(settings: Settings, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || k.startsWith('CAPSTAN_')) continue;
    if (settings.allowEnv.some((p) => (p.endsWith('*') ? k.startsWith(p.slice(0, -1)) : k === p))) out[k] = v;
  }
  return out;
}

export function requireRepo(settings: Settings): string {
  if (settings.repo === undefined) {
    throw new ConfigError('no repository given', 'pass --repo URL|PATH or set CAPSTAN_REPO');
  }
  return settings.repo;
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
