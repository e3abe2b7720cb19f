// TLS from the repository, end to end: a route with `tls: { certificate,
// key }` naming top-level secrets (the key age-encrypted), `capstan run`
// hands the certificate to the router it starts, HTTPS on --https-port
// answers with SNI, plain HTTP gets 308; a new certificate committed is
// served from the next handshake and rolls no replica.

import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptAge, generateIdentity } from '../../src/secrets/age.js';
import { spawnCapstan, tearDownDaemons } from '../helpers/cli.js';
import { HOSTNAME_HTTPD, TEST_IMAGE, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { eventually } from '../helpers/load.js';
import { freePort, request } from '../helpers/net.js';
import { makeCa, makeLeaf, type Pem } from '../helpers/tls.js';

const instance = uniqueInstance('t-rtls');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-rtls-'));
const certDir = mkdtempSync(join(tmpdir(), 'capstan-rtls-certs-'));
let server: TestGitServer;
let repo: TestRepo;
let ca: Pem;
let logs = '';
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  ca = makeCa(certDir);
});

afterAll(async () => {
  await tearDownDaemons({ daemons: daemons, dataDir, instance, servers: [server] });
  rmSync(certDir, { recursive: true, force: true });
});

function manifest(): string {
  return `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ${HOSTNAME_HTTPD}
    deploy: { replicas: 2 }
    x-capstan:
      route: { host: shop.test, path: /, tls: { certificate: shop_crt, key: shop_key }, redirect_http: true }
secrets:
  shop_crt: { file: ./shop.crt }
  shop_key: { file: ./shop.key.age }
`;
}

function httpsSerial(port: number): Promise<{ status: number; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, servername: 'shop.test', headers: { host: 'shop.test' }, ca: ca.cert, agent: false, timeout: 10_000 });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serial: (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber }));
    });
    req.end();
  });
}

describe('TLS routes from the repository', () => {
  it('serves the certificate the repository names (key age-encrypted), redirects plain HTTP, and swaps in a new one without rolling replicas', async () => {
    const identity = await generateIdentity(new Date());
    const keyFile = join(certDir, 'age.key');
    writeFileSync(keyFile, identity.text, { mode: 0o600 });
    const files = async (pem: Pem): Promise<Record<string, string>> => ({
      'stacks/web.yaml': manifest(),
      'stacks/shop.crt': pem.cert,
      'stacks/shop.key.age': Buffer.from(await encryptAge(Buffer.from(pem.key), [identity.recipient], true)).toString('utf8'),
    });
    const first = makeLeaf(certDir, ca, 'shop-1', ['shop.test']);
    await repo.commitFiles(await files(first), 'shop over HTTPS');
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    daemons.push(spawnCapstan(
      ['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1s', '--listen', '127.0.0.1:0', '--http-port', String(httpPort), '--https-port', String(httpsPort)],
      (text) => (logs += text),
      { CAPSTAN_AGE_KEY_FILE: keyFile },
    ));
    const explain = (): string => `daemon logs:\n${logs}`;
    const served = await eventually(async () => {
      const r = await httpsSerial(httpsPort);
      return r.status === 200 ? r : undefined;
    }, 90_000, explain);
    const redirected = await request(httpPort, { host: 'shop.test', path: '/a?b=1' });
    expect([redirected.status, redirected.headers.location]).toEqual([308, `https://shop.test:${httpsPort}/a?b=1`]);
    const ids = (): string => execFileSync('docker', ['ps', '-q', '--no-trunc', '--filter', `label=io.capstan.instance=${instance}`], { encoding: 'utf8' }).split('\n').filter((l) => l !== '').sort().join(',');
    const before = ids();

    const second = makeLeaf(certDir, ca, 'shop-2', ['shop.test']);
    await repo.commitFiles(await files(second), 'renewed certificate');
    await eventually(async () => ((await httpsSerial(httpsPort)).serial !== served.serial ? true : undefined), 60_000, explain);
    expect(ids()).toBe(before);
    expect(logs).not.toContain('BEGIN PRIVATE KEY');
  });
});
