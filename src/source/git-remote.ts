// One definition of talking to a Git server over http(s), shared by fetching
// (remote.ts) and pushing (push.ts): the URL without its userinfo (safe to
// print and to key caches on), credentials (the environment first, the URL's
// userinfo as `git clone` users expect), the HTTP client with its idle
// timeout, the auth callbacks, and the mapping of what went wrong to typed
// errors with secrets scrubbed from every text.

import type { GitAuth, HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { CapstanError, GitAuthError, GitFetchError, GitPushError } from '../errors.js';
import type { GitCredentials } from './credentials.js';
import { gitErrorCode } from './objects.js';

/** Idle socket timeout: a server that stops answering must not hang a lane or a push. */
export const HTTP_IDLE_TIMEOUT_MS = 30_000;
/** What `git fetch --unshallow` sends: deepen to the whole history. */
export const ALL_HISTORY = 2_147_483_647;

const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed by server',
};

/** `https://user:tok@host/x.git` → `https://host/x.git`: safe to print and to key the cache on. */
export function withoutUserinfo(url: string): { url: string; username: string; password: string } {
  try {
    const parsed = new URL(url);
    const username = decodeURIComponent(parsed.username);
    const password = decodeURIComponent(parsed.password);
    parsed.username = '';
    parsed.password = '';
    return { url: parsed.toString(), username, password };
  } catch {
    return { url, username: '', password: '' };
  }
}

export class GitRemote {
  /** The URL without userinfo: what is printed and requested. */
  readonly url: string;
  readonly http: HttpClient;
  readonly credentials: GitCredentials | undefined;

  constructor(url: string, credentials: GitCredentials | undefined) {
    const plain = withoutUserinfo(url);
    this.url = plain.url;
    this.credentials = credentials ?? (plain.username !== '' || plain.password !== '' ? { username: plain.username, password: plain.password } : undefined);
    this.http = { request: (req) => nodeHttp.request({ ...req, fetchOptions: { ...req.fetchOptions, timeout: HTTP_IDLE_TIMEOUT_MS } }) };
  }

  /** For every isomorphic-git call that talks to the server. */
  auth(): { onAuth: () => GitAuth | undefined; onAuthFailure: () => never } {
    const creds = this.credentials;
    return {
      // No credentials: isomorphic-git then reports the 401, mapped to GitAuthError.
      onAuth: () => (creds === undefined ? undefined : { username: creds.username, password: creds.password }),
      // The server refused what we sent; asking again with the same would loop.
      onAuthFailure: () => {
        throw new GitAuthError(this.url);
      },
    };
  }

  /** A typed error for what a fetch or a push ran into; anything from the network or server named by a short reason. */
  mapError(err: unknown, doing: 'fetch' | 'push'): CapstanError {
    if (err instanceof CapstanError) return err;
    const cause = new Error(this.scrub(errorText(err)));
    const fail = (reason: string): CapstanError => (doing === 'fetch' ? new GitFetchError(this.url, reason, cause) : new GitPushError(this.url, reason, cause));
    const code = gitErrorCode(err);
    if (code === 'HttpError' && err instanceof Error && 'data' in err) {
      const data = err.data as { statusCode?: number; statusMessage?: string };
      if (data.statusCode === 401 || data.statusCode === 403) return new GitAuthError(this.url, cause);
      if (data.statusCode === 404) return fail('repository not found (HTTP 404)');
      return fail(`HTTP ${data.statusCode ?? '?'} ${data.statusMessage ?? ''}`.trim());
    }
    if (code === 'UserCanceledError') return new GitAuthError(this.url, cause);
    if (code === 'SmartHttpError') return fail('the server does not speak the Git smart-HTTP protocol');
    return fail(networkReason(err) ?? this.scrub(errorText(err)));
  }

  /** Error texts can echo a URL; never let a password through. */
  scrub(text: string): string {
    const secret = this.credentials?.password;
    if (secret === undefined || secret === '') return text;
    return text.split(secret).join('[redacted]').split(encodeURIComponent(secret)).join('[redacted]');
  }
}

/** A reason for a failure no server answered, or undefined when a server did. */
export function networkReason(err: unknown): string | undefined {
  const code = gitErrorCode(err);
  if (code !== undefined && NETWORK_REASONS[code] !== undefined) return NETWORK_REASONS[code];
  if (code !== undefined && /CERT|SSL|TLS/.test(code)) return `TLS error ${code}`;
  // simple-get's idle timeout and Node's early hang-up carry no code.
  const text = errorText(err);
  if (text === 'Request timed out') return `no answer for ${HTTP_IDLE_TIMEOUT_MS / 1000}s`;
  if (text === 'socket hang up') return 'connection closed by server';
  return undefined;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
