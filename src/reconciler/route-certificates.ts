// The operator's side of TLS routes with `tls: { certificate, key }`: before
// a table naming a certificate id is pushed, the router must hold that
// certificate. Ids carry a digest of the secrets' content, so each new
// certificate is read (from the deployed commit's checkout, the operator's
// secrets dir or environment, decrypting `*.age`) and handed over once;
// what the router already holds (it keeps them across restarts) is not sent
// again. The content goes only to the router's admin API, never to logs.

import { contentReader, type ContentSources } from '../secrets/contents.js';
import type { RouterClient } from '../router/client.js';
import type { TableCertificate } from '../router/routes.js';

export function certificateHandover(client: RouterClient, contents: ContentSources, checkout: (revision: string) => Promise<string>): (certs: readonly TableCertificate[], revision: string) => Promise<void> {
  const held = new Set<string>();
  let asked = false;
  return async (certs, revision) => {
    let todo = certs.filter((c) => !held.has(c.id));
    if (todo.length === 0) return;
    if (!asked) {
      // A router that outlived the operator has them already.
      for (const c of (await client.certificates()).certificates) held.add(c.id);
      asked = true;
      todo = todo.filter((c) => !held.has(c.id));
      if (todo.length === 0) return;
    }
    const fromRepo = todo.some((c) => c.certificate.source.kind === 'repo' || c.key.source.kind === 'repo');
    const read = contentReader(contents, fromRepo ? await checkout(revision) : undefined);
    for (const c of todo) {
      const [cert, key] = await Promise.all([read(c.certificate), read(c.key)]);
      await client.putCertificate(c.id, Buffer.from(cert).toString('utf8'), Buffer.from(key).toString('utf8'));
      held.add(c.id);
    }
  };
}
