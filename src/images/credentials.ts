// Registry credentials exactly where the Docker client keeps them: the
// config.json in $DOCKER_CONFIG (else ~/.docker), its `auths` (base64
// user:password, or an identity token), and credential helpers —
// `credHelpers[<registry>]`, else `credsStore` — run as
// `docker-credential-<helper> get` with the server address on stdin, as
// Docker does. The file is read again on every lookup, so a `docker login`
// while the daemon runs counts at once. Secrets stay in memory: they are
// never logged, put in errors or written anywhere.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ImagePullError } from '../errors.js';
import { DOCKER_HUB, parseImageRef } from '../manifests/image-ref.js';

export type RegistryCredential =
  | { kind: 'password'; username: string; password: string }
  | { kind: 'token'; identityToken: string };

export interface CredentialStore {
  /** Where the credentials come from, for messages (`/root/.docker/config.json`). */
  readonly source: string;
  /** undefined: none for this registry (pull anonymously). Throws CredentialLookupError when a helper fails. */
  lookup(registry: string): Promise<RegistryCredential | undefined>;
}

/** A helper failed: names the helper and registry only. */
export class CredentialLookupError extends Error {}

/** What Docker calls Docker Hub in config.json and asks helpers for. */
const HUB_SERVER = 'https://index.docker.io/v1/';
const HELPER_TIMEOUT_MS = 10_000;

interface ConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string } | undefined>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['DOCKER_CONFIG'] !== undefined && env['DOCKER_CONFIG'] !== '' ? env['DOCKER_CONFIG'] : join(homedir(), '.docker');
  return join(dir, 'config.json');
}

/** `https://index.docker.io/v1/`, `registry-1.docker.io` and `docker.io` are one registry; scheme and path never matter. */
export function normalizeRegistryKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host;
}

export function dockerCredentials(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): CredentialStore {
  const file = opts.file ?? dockerConfigFile(opts.env);
  return {
    source: file,
    async lookup(registry) {
      const config = await readConfig(file);
      if (config === undefined) return undefined;
      const want = normalizeRegistryKey(registry);
      const server = want === DOCKER_HUB ? HUB_SERVER : registry;
      const helper = Object.entries(config.credHelpers ?? {}).find(([k]) => normalizeRegistryKey(k) === want)?.[1] ?? config.credsStore;
      if (helper !== undefined && helper !== '') {
        const fromHelper = await runHelper(helper, server, registry);
        if (fromHelper !== undefined) return fromHelper;
      }
      const entry = Object.entries(config.auths ?? {}).find(([k]) => normalizeRegistryKey(k) === want)?.[1];
      return entry === undefined ? undefined : fromAuthEntry(entry);
    },
  };
}

async function readConfig(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as ConfigFile) : undefined;
  } catch {
    throw new CredentialLookupError(`${file} is not valid JSON`);
  }
}

function fromAuthEntry(entry: NonNullable<NonNullable<ConfigFile['auths']>[string]>): RegistryCredential | undefined {
  if (entry.identitytoken !== undefined && entry.identitytoken !== '') return { kind: 'token', identityToken: entry.identitytoken };
  if (entry.auth !== undefined && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { kind: 'password', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { kind: 'password', username: entry.username, password: entry.password };
  return undefined;
}

/** `docker-credential-<helper> get`: undefined when it has nothing for this server, as Docker treats "credentials not found". */
function runHelper(helper: string, server: string, registry: string): Promise<RegistryCredential | undefined> {
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(program, ['get'], { timeout: HELPER_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        if (/credentials not found/i.test(`${stdout}${stderr}`)) return resolve(undefined);
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed' : err.killed ? `did not answer within ${HELPER_TIMEOUT_MS / 1000} s` : `failed (exit code ${String((err as { code?: unknown }).code ?? '?')})`;
        return reject(new CredentialLookupError(`credential helper ${program} ${why} for ${registry}`));
      }
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (out.Secret === undefined || out.Secret === '') return resolve(undefined);
        // Docker's convention: a helper answers identity tokens with the user name "<token>".
        resolve(out.Username === '<token>' ? { kind: 'token', identityToken: out.Secret } : { kind: 'password', username: out.Username ?? '', password: out.Secret });
      } catch {
        reject(new CredentialLookupError(`credential helper ${program} answered something other than JSON for ${registry}`));
      }
    });
    child.stdin?.end(server);
  });
}

/** The engine's X-Registry-Auth body for a pull (dockerode base64-encodes it). */
export function engineAuthConfig(registry: string, credential: RegistryCredential): Record<string, string> {
  const serveraddress = normalizeRegistryKey(registry) === DOCKER_HUB ? HUB_SERVER : registry;
  return credential.kind === 'token'
    ? { identitytoken: credential.identityToken, serveraddress }
    : { username: credential.username, password: credential.password, serveraddress };
}

/**
 * The engine's X-Registry-Auth for pulling `image` from `registry`
 * (undefined: anonymous). A helper that fails is a failed pull
 * ('unauthorized'), named by the helper and registry, never by a secret.
 */
export async function engineAuthFor(store: CredentialStore, image: string, registry = parseImageRef(image)?.registry): Promise<Record<string, string> | undefined> {
  if (registry === undefined) return undefined;
  try {
    const credential = await store.lookup(registry);
    return credential === undefined ? undefined : engineAuthConfig(registry, credential);
  } catch (err) {
    throw new ImagePullError(image, registry, 'unauthorized', err instanceof Error ? err.message : String(err));
  }
}
