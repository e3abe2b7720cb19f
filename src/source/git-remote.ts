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
/** The socket timeout sits this far past the body's watchdog, so a stall mid-body is reported by the watchdog. */
const SOCKET_TIMEOUT_GRACE_MS = 2_000;
/** simple-get's message for its timeout, and ours for a body that stopped: both read "no answer for 30s". */
const TIMED_OUT = 'Request timed out';

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
  /** The newest request's answer stopped mid-body for the idle timeout (calls on one remote run one at a time). */
  private stalled = false;

  constructor(url: string, credentials: GitCredentials | undefined) {
    const plain = withoutUserinfo(url);
    this.url = plain.url;
    this.credentials = credentials ?? (plain.username !== '' || plain.password !== '' ? { username: plain.username, password: plain.password } : undefined);
    this.http = {
      request: async (req) => {
        // The socket's own timeout would end a stalled body quietly, and isomorphic-git reads a truncated
        // answer as "Empty response from git server" (its pkt-line reader swallows stream errors): the
        // body's watchdog fires first and notes the stall, so mapError can say what happened.
        this.stalled = false;
        const res = await nodeHttp.request({ ...req, fetchOptions: { ...req.fetchOptions, timeout: HTTP_IDLE_TIMEOUT_MS + SOCKET_TIMEOUT_GRACE_MS } });
        return res.body === undefined ? res : { ...res, body: idleGuarded(res.body, HTTP_IDLE_TIMEOUT_MS, () => (this.stalled = true)) };
      },
    };
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
    if (this.stalled) return fail(`the server stopped answering mid-response (no bytes for ${HTTP_IDLE_TIMEOUT_MS / 1000}s)`);
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

/** A response body that fails once no bytes came for `ms` (a server that stops mid-response), closing the connection. */
function idleGuarded(body: AsyncIterableIterator<Uint8Array>, ms: number, onStall: () => void): AsyncIterableIterator<Uint8Array> {
  const inner = body[Symbol.asyncIterator]();
  const guarded: AsyncIterableIterator<Uint8Array> = {
    next: () => new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        onStall();
        void inner.return?.();
        reject(new Error(TIMED_OUT));
      }, ms);
      inner.next().then(
        (r) => { clearTimeout(timer); resolve(r); },
        (err: unknown) => { clearTimeout(timer); reject(err instanceof Error ? err : new Error(String(err))); },
      );
    }),
    return: async (value?: unknown) => (inner.return === undefined ? { done: true, value: undefined } : inner.return(value)),
    [Symbol.asyncIterator]: () => guarded,
  };
  return guarded;
}

/** A reason for a failure no server answered, or undefined when a server did. */
export function networkReason(err: unknown): string | undefined {
  const code = gitErrorCode(err);
  if (code !== undefined && NETWORK_REASONS[code] !== undefined) return NETWORK_REASONS[code];
  if (code !== undefined && /CERT|SSL|TLS/.test(code)) return `TLS error ${code}`;
  // simple-get's idle timeout and Node's early hang-up carry no code.
  const text = errorText(err);
  if (text === TIMED_OUT) return `no answer for ${HTTP_IDLE_TIMEOUT_MS / 1000}s`;
  if (text === 'socket hang up') return 'connection closed by server';
  return undefined;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
