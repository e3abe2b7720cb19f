// Who may call what on the HTTP API (DESIGN §8): every route declares its
// access, and one check decides each request from its headers alone. The
// token comes as `Authorization: Bearer` (scripts, the CLI) or as the
// dashboard's HttpOnly, SameSite=Strict cookie, which a browser sends only
// with same-site requests; other POSTs must be JSON besides, which a
// cross-site form cannot send without a CORS preflight this API never grants.
// No I/O.

import { safeEqual } from '../safe-equal.js';
import { bearerMatches, type Headers } from './webhooks.js';

/**
 * `open`: no token (health, readiness, login, hooks with their own secrets).
 * `token`: the API token. `metrics`: the token unless --metrics-public.
 * `sync`: the token or the webhook secret (POST /api/sync, as before).
 */
export type Access = 'open' | 'token' | 'metrics' | 'sync';

export const TOKEN_COOKIE = 'capstan_token';

export interface AuthOptions {
  token: string;
  webhookSecret: string | undefined;
  metricsPublic: boolean;
}

export type AuthDecision = { ok: true } | { ok: false; status: 401 | 415; message: string };

export function authorize(access: Access, req: { method: string; headers: Headers }, opts: AuthOptions): AuthDecision {
  if (access === 'open' || (access === 'metrics' && opts.metricsPublic)) return { ok: true };
  const allowed =
    bearerMatches(req.headers, opts.token) ||
    cookieMatches(req.headers, opts.token) ||
    (access === 'sync' && opts.webhookSecret !== undefined && bearerMatches(req.headers, opts.webhookSecret));
  if (!allowed) {
    const also = access === 'sync' ? ' (or the webhook secret)' : '';
    return { ok: false, status: 401, message: `this endpoint needs the API token${also}: send Authorization: Bearer <token> (CAPSTAN_API_TOKEN, the file CAPSTAN_API_TOKEN_FILE names, else <data-dir>/api.token), or log in at /` };
  }
  if (req.method === 'POST' && !isJson(first(req.headers['content-type']))) {
    return { ok: false, status: 415, message: 'POST bodies must be sent with Content-Type: application/json' };
  }
  return { ok: true };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

export function cookieValue(headers: Headers, name: string): string | undefined {
  const raw = first(headers['cookie']);
  if (raw === undefined) return undefined;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function cookieMatches(headers: Headers, token: string): boolean {
  const value = cookieValue(headers, TOKEN_COOKIE);
  return value !== undefined && safeEqual(value, token);
}

/** The session cookie the login sets: the page's scripts cannot read it, and no other site's requests carry it. */
export function loginCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
}

export function logoutCookie(): string {
  return `${TOKEN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** The token a login form (urlencoded) or a JSON client (`{"token": ...}`) sent. */
export function loginToken(body: Buffer, contentType: string | undefined): string | undefined {
  const text = body.toString('utf8');
  if (isJson(contentType)) {
    try {
      const parsed: unknown = JSON.parse(text);
      const token = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['token'] : undefined;
      return typeof token === 'string' && token !== '' ? token : undefined;
    } catch {
      return undefined;
    }
  }
  const token = new URLSearchParams(text).get('token');
  return token === null || token === '' ? undefined : token.trim();
}
