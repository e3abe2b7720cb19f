// The registry client against a small registry-shaped server on 127.0.0.1
// that speaks the Bearer-token flow (the real docker-registry in the
// integration tests speaks htpasswd Basic): challenge, token fetched from the
// realm with the client's credentials and cached, pagination by Link header.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialStore } from '../../src/images/credentials.js';
import { parseImageRef } from '../../src/manifests/image-ref.js';
import { RegistryClient, RegistryError } from '../../src/images/registry.js';

const DIGEST = `sha256:${'e'.repeat(64)}`;
const TAGS = Array.from({ length: 250 }, (_, i) => `1.${i}.0`);
let server: http.Server;
let host = '';
const seen = { tokens: 0, tokenAuth: [] as string[], scopes: [] as string[] };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    if (url.pathname === '/token') {
      seen.tokens++;
      seen.tokenAuth.push(req.headers.authorization ?? '');
      seen.scopes.push(url.searchParams.get('scope') ?? '');
      if (req.headers.authorization !== `Basic ${Buffer.from('ci:s3cret').toString('base64')}`) return void res.writeHead(401).end();
      return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'tok-1', expires_in: 300 }));
    }
    if (req.headers.authorization !== 'Bearer tok-1') {
      return void res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${host}/token",service="test-registry",scope="repository:team/api:pull"` }).end();
    }
    if (url.pathname === '/v2/team/api/manifests/1.4.2') return void res.writeHead(200, { 'Docker-Content-Digest': DIGEST }).end();
    if (url.pathname === '/v2/team/api/tags/list') {
      const last = url.searchParams.get('last');
      const start = last === null ? 0 : TAGS.indexOf(last) + 1;
      const page = TAGS.slice(start, start + 100);
      const more = start + 100 < TAGS.length ? { Link: `</v2/team/api/tags/list?n=100&last=${page.at(-1) ?? ''}>; rel="next"` } : {};
      return void res.writeHead(200, { 'Content-Type': 'application/json', ...more }).end(JSON.stringify({ name: 'team/api', tags: page }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const store = (password: string | undefined): CredentialStore => ({
  source: 'test',
  lookup: () => Promise.resolve(password === undefined ? undefined : { kind: 'password', username: 'ci', password }),
});

describe('RegistryClient with Bearer tokens', () => {
  it('answers the challenge with a token from the realm, asked with the credentials, and reuses it', async () => {
    const client = new RegistryClient({ credentials: store('s3cret') });
    const ref = parseImageRef(`${host}/team/api:1.4.2`);
    if (ref === undefined) throw new Error('bad ref');
    expect(await client.manifestDigest(ref)).toBe(DIGEST);
    expect(await client.manifestDigest(ref)).toBe(DIGEST);
    expect(seen.tokens).toBe(1);
    expect(seen.scopes).toEqual(['repository:team/api:pull']);

    const tags = await client.listTags(ref);
    expect(tags).toEqual(TAGS);
  });

  it('a wrong password is an unauthorized error naming the registry, not the secret', async () => {
    const client = new RegistryClient({ credentials: store('wrong-secret') });
    const ref = parseImageRef(`${host}/team/api:1.4.2`);
    if (ref === undefined) throw new Error('bad ref');
    const err = await client.manifestDigest(ref).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).failure).toBe('unauthorized');
    expect((err as RegistryError).message).toContain(host);
    expect((err as RegistryError).message).not.toContain('wrong-secret');
  });

  it('a registry that does not answer is unreachable', async () => {
    const client = new RegistryClient({ credentials: store(undefined), timeoutMs: 2000 });
    const ref = parseImageRef('127.0.0.1:1/team/api:1');
    if (ref === undefined) throw new Error('bad ref');
    await expect(client.manifestDigest(ref)).rejects.toMatchObject({ failure: 'unreachable' });
  });
});
