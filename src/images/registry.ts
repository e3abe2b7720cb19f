// A small client of the registry HTTP API v2 for what the engine's pull
// cannot tell: a tag's current digest (HEAD on its manifest, nothing
// downloaded) and a repository's tags (paginated). Auth as Docker does it:
// answer a 401's challenge with Basic credentials, or fetch a Bearer token
// from the realm it names (with the credentials, or anonymously) and cache
// it until it expires. Loopback registries speak plain HTTP, as the engine
// allows them; others HTTPS. Errors name the registry and what failed, never
// a credential.

import { parseChallenge, nextLink, type Challenge } from './challenge.js';
import type { CredentialStore, RegistryCredential } from './credentials.js';
import { DOCKER_HUB, type ImageRef } from '../manifests/image-ref.js';
import type { PullFailure } from '../errors.js';

/** Manifest media types accepted on a HEAD, so the digest is the one the engine records (a list's for multi-platform tags). */
const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const DEFAULT_TIMEOUT_MS = 10_000;
/** Pages of tags followed at most (100 tags each): enough for any repository a service follows. */
const MAX_PAGES = 100;

export class RegistryError extends Error {
  constructor(readonly registry: string, readonly failure: PullFailure, message: string) {
    super(message);
  }
}

export interface RegistryClientOptions {
  credentials: CredentialStore;
  timeoutMs?: number;
}

interface Token {
  value: string;
  expiresAt: number;
}

export class RegistryClient {
  /** Per registry: the challenge it answered last (so later requests authenticate up front). */
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, Token>();

  constructor(private readonly opts: RegistryClientOptions) {}

  /** The digest the registry has for `ref`'s tag now. */
  async manifestDigest(ref: ImageRef): Promise<string> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const res = await this.request(ref, `/v2/${ref.path}/manifests/${reference}`, 'HEAD', { Accept: MANIFEST_TYPES });
    const digest = res.headers.get('docker-content-digest');
    if (digest === null || digest === '') throw new RegistryError(ref.registry, 'other', `${ref.registry} answered without a Docker-Content-Digest header for ${ref.path}:${reference}`);
    return digest;
  }

  /** Every tag of `ref`'s repository, following pagination. */
  async listTags(ref: ImageRef): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${ref.path}/tags/list?n=100`;
    for (let page = 0; path !== undefined && page < MAX_PAGES; page++) {
      const res = await this.request(ref, path, 'GET', { Accept: 'application/json' });
      const body = (await res.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const next = nextLink(res.headers.get('link'), baseUrl(ref.registry));
      path = next === undefined ? undefined : new URL(next).pathname + new URL(next).search;
    }
    return tags;
  }

  private async request(ref: ImageRef, path: string, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<Response> {
    const scope = `repository:${ref.path}:pull`;
    const url = `${baseUrl(ref.registry)}${path}`;
    const credential = await this.credential(ref.registry);
    for (let attempt = 0; attempt < 2; attempt++) {
      const auth = await this.authorization(ref.registry, scope, credential);
      const res = await this.fetch(ref.registry, url, { method, headers: { ...headers, ...(auth === undefined ? {} : { Authorization: auth }) } });
      if (res.status === 401 && attempt === 0) {
        await res.body?.cancel();
        const challenge = parseChallenge(res.headers.get('www-authenticate'));
        if (challenge === undefined) throw new RegistryError(ref.registry, 'unauthorized', `${ref.registry} refused ${ref.path} (401) without saying how to authenticate`);
        this.challenges.set(ref.registry, challenge);
        this.tokens.delete(`${ref.registry} ${scope}`);
        continue;
      }
      if (res.ok) return res;
      await res.body?.cancel();
      throw statusError(ref, res.status, credential !== undefined);
    }
    throw new RegistryError(ref.registry, 'unauthorized', `${ref.registry} refused ${ref.path}: ${credential === undefined ? 'authentication required and no credentials found' : 'unauthorized (wrong username or password?)'}`);
  }

  private async credential(registry: string): Promise<RegistryCredential | undefined> {
    try {
      return await this.opts.credentials.lookup(registry);
    } catch (err) {
      throw new RegistryError(registry, 'unauthorized', err instanceof Error ? err.message : String(err));
    }
  }

  /** The Authorization header for the registry's last challenge; undefined before any (an anonymous first try). */
  private async authorization(registry: string, scope: string, credential: RegistryCredential | undefined): Promise<string | undefined> {
    const challenge = this.challenges.get(registry);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') {
      if (credential?.kind !== 'password') return undefined;
      return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`;
    }
    const key = `${registry} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt > Date.now()) return `Bearer ${cached.value}`;
    const token = await this.fetchToken(registry, challenge, scope, credential);
    this.tokens.set(key, token);
    return `Bearer ${token.value}`;
  }

  private async fetchToken(registry: string, challenge: Challenge, scope: string, credential: RegistryCredential | undefined): Promise<Token> {
    const realm = challenge.params['realm'];
    if (realm === undefined) throw new RegistryError(registry, 'unauthorized', `${registry} asked for a bearer token without naming where to get it (no realm)`);
    const service = challenge.params['service'];
    let res: Response;
    if (credential?.kind === 'token') {
      // An identity token is an OAuth2 refresh token (docker login with a token-issuing registry).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.identityToken, scope, client_id: 'capstan', ...(service === undefined ? {} : { service }) });
      res = await this.fetch(registry, realm, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    } else {
      const url = new URL(realm);
      if (service !== undefined) url.searchParams.set('service', service);
      url.searchParams.set('scope', scope);
      const headers: Record<string, string> = credential?.kind === 'password' ? { Authorization: `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}` } : {};
      res = await this.fetch(registry, url.toString(), { method: 'GET', headers });
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(registry, res.status === 401 || res.status === 403 ? 'unauthorized' : 'other', `the token service of ${registry} refused (HTTP ${res.status}${res.status === 401 ? ': wrong username or password?' : ''})`);
    }
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (value === undefined || value === '') throw new RegistryError(registry, 'other', `the token service of ${registry} answered without a token`);
    // The spec's default lifetime is 60 s; renew a little early.
    return { value, expiresAt: Date.now() + Math.max(10, (body.expires_in ?? 60) - 5) * 1000 };
  }

  private async fetch(registry: string, url: string, init: RequestInit): Promise<Response> {
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      return await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TimeoutError' || name === 'AbortError') throw new RegistryError(registry, 'timeout', `${registry} did not answer within ${timeoutMs / 1000} s`);
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
      throw new RegistryError(registry, 'unreachable', `${registry} is unreachable: ${cause}`);
    }
  }
}

/** https://, except for loopback registries, which the engine itself reaches over plain HTTP. */
export function baseUrl(registry: string): string {
  if (registry === DOCKER_HUB) return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const loopback = host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  return `${loopback ? 'http' : 'https'}://${registry}`;
}

function statusError(ref: ImageRef, status: number, hadCredentials: boolean): RegistryError {
  const what = `${ref.path}:${ref.digest ?? ref.tag ?? 'latest'}`;
  if (status === 404) return new RegistryError(ref.registry, 'not-found', `${what} not found on ${ref.registry}`);
  if (status === 401 || status === 403) {
    return new RegistryError(ref.registry, 'unauthorized', `${ref.registry} refused ${what}: ${hadCredentials ? 'unauthorized (wrong username or password?)' : 'authentication required and no credentials found'}`);
  }
  if (status === 429) return new RegistryError(ref.registry, 'other', `${ref.registry} rate-limits requests (HTTP 429)`);
  return new RegistryError(ref.registry, status >= 500 ? 'unreachable' : 'other', `${ref.registry} answered HTTP ${status} for ${what}`);
}
