// The HTTP API's token (DESIGN §8): CAPSTAN_API_TOKEN, else the file named by
// CAPSTAN_API_TOKEN_FILE (readable by its owner only, as ssh insists for keys),
// else one the daemon generates into <data-dir>/api.token. The daemon resolves
// it once at start; CLI commands that talk to the daemon read the same places
// but never generate one. The token itself is never logged, only its path.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

export interface ApiToken {
  value: string;
  /** `env` and `file` are set by the operator; `generated` lives in the data dir. */
  source: 'env' | 'file' | 'generated';
  /** The file it was read from or written to. */
  path?: string;
}

export interface TokenSettings {
  apiToken: string | undefined;
  apiTokenFile: string | undefined;
  dataDir: string;
}

export function generatedTokenPath(dataDir: string): string {
  return join(dataDir, 'api.token');
}

/** The token the operator set (env, then file), or undefined. Throws when the file is unsafe or unreadable. */
function explicitToken(s: TokenSettings): ApiToken | undefined {
  if (s.apiToken !== undefined) return { value: s.apiToken, source: 'env' };
  if (s.apiTokenFile === undefined) return undefined;
  return { value: readTokenFile(s.apiTokenFile, 'CAPSTAN_API_TOKEN_FILE'), source: 'file', path: s.apiTokenFile };
}

/** The daemon's token: the operator's, or the one in <data-dir>/api.token, generated (0600) when missing. */
export function resolveApiToken(s: TokenSettings): ApiToken {
  const explicit = explicitToken(s);
  if (explicit !== undefined) return explicit;
  const path = generatedTokenPath(s.dataDir);
  if (existsSync(path)) return { value: readTokenFile(path, 'the generated token'), source: 'generated', path };
  mkdirSync(s.dataDir, { recursive: true });
  const value = randomBytes(32).toString('base64url');
  try {
    // `wx`: another daemon (or a second start) racing us keeps its token, and we read it.
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return { value, source: 'generated', path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { value: readTokenFile(path, 'the generated token'), source: 'generated', path };
    throw new ConfigError(`cannot write the API token to ${path}: ${(err as Error).message}`, 'make --data-dir writable, or set CAPSTAN_API_TOKEN / CAPSTAN_API_TOKEN_FILE');
  }
}

/** What a CLI command sends to the daemon: the same places, never generating; undefined when there is none to read. */
export function clientApiToken(s: TokenSettings): string | undefined {
  const explicit = explicitToken(s);
  if (explicit !== undefined) return explicit.value;
  const path = generatedTokenPath(s.dataDir);
  return existsSync(path) ? readTokenFile(path, 'the generated token') : undefined;
}

function readTokenFile(path: string, what: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the API token file ${path} (${what}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'point CAPSTAN_API_TOKEN_FILE at a readable file, or set CAPSTAN_API_TOKEN');
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`the API token file ${path} (${what}) is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')})`, `run chmod 600 ${path}`);
  }
  const value = text.trim();
  if (value === '') throw new ConfigError(`the API token file ${path} (${what}) is empty`, 'write the token into it, or set CAPSTAN_API_TOKEN');
  return value;
}

/** 127.0.0.0/8, ::1 and localhost: the addresses only this host reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A non-loopback --listen with a token only the data dir knows would be a door with the key under the mat: refuse it. */
export function checkListenToken(listen: string, token: ApiToken): void {
  const host = listen.slice(0, listen.lastIndexOf(':'));
  if (token.source !== 'generated' || isLoopbackHost(host)) return;
  throw new ConfigError(
    `--listen ${listen} is reachable from other hosts, and no API token is set`,
    'set CAPSTAN_API_TOKEN (or CAPSTAN_API_TOKEN_FILE, a 0600 file holding it), e.g. `docker run -e CAPSTAN_API_TOKEN=$(openssl rand -hex 32) ...`; or listen on 127.0.0.1',
  );
}
