// The operator's settings: one zod schema at the boundary turns flags, env
// and capstan.yaml into a frozen, typed value (precedence: flags > env >
// file > defaults, DESIGN §8). Past this point code trusts its types.

import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseDurationMs } from '../manifests/units.js';

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
  listen: string;
  backend: 'docker' | 'swarm';
  logFormat: 'json' | 'pretty';
  logLevel: string;
  /** Most engine operations in flight at once during a pass. */
  parallelism: number;
  /** Names (or `PREFIX_*` patterns) of operator environment variables manifests may interpolate. */
  allowEnv: readonly string[];
  /** Active Compose profiles: services with `profiles:` run only when one of theirs is listed ("*" = all). */
  profiles: readonly string[];
}

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
  router: 'CAPSTAN_ROUTER',
  listen: 'CAPSTAN_LISTEN',
  backend: 'CAPSTAN_BACKEND',
  logFormat: 'CAPSTAN_LOG_FORMAT',
  logLevel: 'CAPSTAN_LOG_LEVEL',
  parallelism: 'CAPSTAN_PARALLELISM',
  allowEnv: 'CAPSTAN_ALLOW_ENV',
  profiles: 'COMPOSE_PROFILES',
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
const list = z.union([z.string(), z.array(z.string())]).transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s !== ''));

const schema = z.object({
  repo: z.string().min(1).optional(),
  branch: z.string().min(1).default('main'),
  path: z.string().default('stacks'),
  interval: duration.default(30_000),
  instance: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, 'use lowercase letters, digits, ".", "_" and "-"').default('default'),
  dataDir: z.string().min(1).default('.capstan'),
  statusBranch: z.string().min(1).default('capstan/status'),
  httpPort: port.default(8000),
  router: z.enum(['process', 'container', 'none']).default('process'),
  listen: z.string().regex(/^[^:]+:\d+$/, 'use HOST:PORT, e.g. 127.0.0.1:9420').default('127.0.0.1:9420'),
  backend: z.enum(['docker', 'swarm']).default('docker'),
  logFormat: z.enum(['json', 'pretty']).default('json'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  parallelism: z.coerce.number().int().min(1).max(256).default(32),
  allowEnv: list.default([]),
  profiles: list.default([]),
});

/**
 * Merge the layers and validate. `flags` are what the user typed (undefined
 * when not given), `env` the process environment, `file` the parsed
 * capstan.yaml (keys as in SOURCES, kebab-case or camelCase).
 */
export function resolveSettings(flags: RawSettings, env: NodeJS.ProcessEnv, file: Record<string, unknown> = {}): Settings {
  const merged: Record<string, unknown> = {};
  for (const [name, envName] of Object.entries(SOURCES) as [SettingName, string][]) {
    const fromFile = file[name] ?? file[kebab(name)];
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
  const { interval, ...rest } = parsed.data;
  return Object.freeze({ ...rest, intervalMs: interval, repo: rest.repo, allowEnv: Object.freeze(rest.allowEnv), profiles: Object.freeze(rest.profiles) });
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
