// x-capstan.route's TLS keys: `tls: { certificate, key }` naming top-level
// secrets (age files too), `tls: { acme: true }`, `redirect_http`, each
// mistake at its line; then the routing table naming the certificate by an
// id that follows the secrets' content, and the spec hash that does not.

import { describe, expect, it } from 'vitest';
import { specHash } from '../../src/desired/spec-hash.js';
import { blobId } from '../../src/manifests/repo-tree.js';
import { buildRoutingTable } from '../../src/router/routes.js';
import { desiredService, desiredStack, desiredState } from '../helpers/specs.js';
import { errorsOf, load } from './helpers.js';

const AGE = '-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n';

function stack(route: string[], extra: Record<string, string> = {}): ReturnType<typeof load> {
  return load({
    'stacks/shop.yaml': [
      'services:',
      '  web:',
      '    image: web:1',
      '    x-capstan:',
      '      route:',
      ...route.map((l) => `        ${l}`),
      'secrets:',
      '  shop_crt: { file: ./shop.crt }',
      '  shop_key: { file: ./shop.key.age }',
    ].join('\n'),
    'stacks/shop.crt': 'CERT-1',
    'stacks/shop.key.age': AGE,
    ...extra,
  });
}

describe('x-capstan.route.tls', () => {
  it('names the secrets of the certificate and its key, age-encrypted ones included', () => {
    const r = stack(['host: shop.example', 'tls: { certificate: shop_crt, key: shop_key }', 'redirect_http: true']);
    expect(errorsOf(r)).toEqual([]);
    const web = r.stacks[0]!.services['web']!;
    expect(web.routeTls).toEqual({
      shop_crt: { name: 'shop_crt', target: '/run/secrets/shop_crt', uid: 0, gid: 0, mode: 0o400, source: { kind: 'repo', path: 'stacks/shop.crt', encryption: undefined }, digest: blobId('CERT-1') },
      shop_key: { name: 'shop_key', target: '/run/secrets/shop_key', uid: 0, gid: 0, mode: 0o400, source: { kind: 'repo', path: 'stacks/shop.key.age', encryption: 'age' }, digest: blobId(AGE) },
    });
  });

  it('says what is wrong, at its line', () => {
    const cases: [string[], string][] = [
      [['host: shop.example', 'tls: { certificate: shop_crt, key: nope }'], 'stacks/shop.yaml:7:44 services.web.x-capstan.route.tls.key: secret "nope" is not declared in the top-level `secrets:` (declared: shop_crt, shop_key)'],
      [['tls: { acme: true }'], 'stacks/shop.yaml:6:9 services.web.x-capstan.route.tls: a TLS route needs a host'],
      [['host: shop.example', 'tls: { certificate: shop_crt }'], 'stacks/shop.yaml:7:14 services.web.x-capstan.route.tls: tls is { certificate: <secret>, key: <secret> } or { acme: true }'],
      [['host: shop.example', 'redirect_http: true'], 'stacks/shop.yaml:7:9 services.web.x-capstan.route.redirect_http: redirect_http needs tls on the route'],
    ];
    for (const [route, error] of cases) {
      const errors = errorsOf(stack(route));
      expect(errors.length, route.join('; ')).toBe(1);
      expect(errors[0], route.join('; ')).toContain(error);
    }
  });

  it('puts the route on the HTTPS entry with a certificate id that follows the content, and leaves the spec hash alone', () => {
    const built = (crt: string) => {
      const r = stack(['host: shop.example', 'tls: { certificate: shop_crt, key: shop_key }', 'redirect_http: true'], { 'stacks/shop.crt': crt });
      const spec = r.stacks[0]!.services['web']!;
      const svc = desiredService('shop', 'web', spec);
      return { hash: specHash(spec), table: buildRoutingTable(desiredState('a'.repeat(40), [desiredStack('shop', [svc])]), { instance: 't', networks: [], volumes: [], containers: [] }, 8000) };
    };
    const one = built('CERT-1');
    const two = built('CERT-2');
    expect(one.table.table.l7).toEqual([{ name: 'shop/web', host: 'shop.example', pathPrefix: '/', sticky: false, backends: [], tls: { certificate: one.table.certificates[0]!.id }, redirectHttp: true }]);
    expect(one.table.certificates.map((c) => [c.certificate.name, c.key.name])).toEqual([['shop_crt', 'shop_key']]);
    expect(one.table.certificates[0]!.id).toMatch(/^shop\.shop_crt\.[0-9a-f]{12}$/);
    expect(two.table.certificates[0]!.id).not.toBe(one.table.certificates[0]!.id);
    expect(two.hash).toBe(one.hash);
  });
});
