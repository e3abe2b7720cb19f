// The TLS keys of `x-capstan.route` (`tls:` and `redirect_http:`), checked
// where their position is known so a mistake is named with file:line:
// `tls: { certificate: <secret>, key: <secret> }` names two top-level
// `secrets:` (age-encrypted files work as for any secret), `tls: { acme:
// true }` asks the router's ACME directory, `redirect_http: true` needs tls,
// and a TLS route needs a `host` (SNI picks the certificate by it). The
// rest of the route is read by router/routes.ts.

import type { ResolvedDef } from './files.js';
import type { MountedFile } from './model.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The secrets TLS routes name, by name; undefined when no route of the service has `tls` with secrets. */
export function routeTlsFiles(route: unknown, secrets: ReadonlyMap<string, ResolvedDef | undefined>, at: readonly PathSegment[], fp: FileProblems): Readonly<Record<string, MountedFile>> | undefined {
  const files: Record<string, MountedFile> = {};
  const routes = Array.isArray(route) ? route.map((r, i) => ({ r, at: [...at, i] })) : [{ r: route, at: [...at] }];
  for (const { r, at: here } of routes) {
    if (!isRecord(r)) continue;
    const tls = r['tls'];
    const redirect = r['redirect_http'];
    if (redirect !== undefined && typeof redirect !== 'boolean') fp.error([...here, 'redirect_http'], 'redirect_http is true or false');
    if (tls === undefined) {
      if (redirect === true) fp.error([...here, 'redirect_http'], 'redirect_http needs tls on the route', 'add tls: { certificate: <secret>, key: <secret> } or tls: { acme: true }', 'key');
      continue;
    }
    if (r['host'] === undefined) fp.error([...here, 'tls'], 'a TLS route needs a host: the router picks its certificate by the name the client asks for (SNI)', 'add host: <name> to the route', 'key');
    const acme = isRecord(tls) && tls['acme'] === true && Object.keys(tls).length === 1;
    const pair = isRecord(tls) && typeof tls['certificate'] === 'string' && typeof tls['key'] === 'string' && Object.keys(tls).length === 2;
    if (!acme && !pair) {
      fp.error([...here, 'tls'], 'tls is { certificate: <secret>, key: <secret> } or { acme: true }', 'name two top-level secrets (the PEM certificate chain and its key), or let the router get one with acme: true');
      continue;
    }
    if (!pair) continue;
    for (const role of ['certificate', 'key'] as const) {
      const name = tls[role] as string;
      if (!secrets.has(name)) {
        const known = [...secrets.keys()].sort();
        fp.error([...here, 'tls', role], `secret ${JSON.stringify(name)} is not declared in the top-level \`secrets:\``, known.length > 0 ? `declared: ${known.join(', ')}` : `add \`secrets: { ${name}: { file: ./${name}.pem } }\` at the top level of the file`);
        continue;
      }
      const def = secrets.get(name);
      if (def === undefined) continue; // reported at the declaration
      files[name] = { name, target: `/run/secrets/${name}`, uid: 0, gid: 0, mode: 0o400, source: def.source, digest: def.digest };
    }
  }
  return Object.keys(files).length === 0 ? undefined : files;
}

/** The route's TLS as the router's table takes it, once routeTlsFiles has checked it (a malformed one is left out, its error reported there). */
export function routeTlsOf(r: { tls?: unknown; redirect_http?: unknown }): { tls?: { certificate: string; key: string } | { acme: true }; redirectHttp?: boolean } {
  const tls = r.tls;
  const redirectHttp = r.redirect_http === true ? { redirectHttp: true } : {};
  if (isRecord(tls) && tls['acme'] === true) return { tls: { acme: true }, ...redirectHttp };
  if (isRecord(tls) && typeof tls['certificate'] === 'string' && typeof tls['key'] === 'string') return { tls: { certificate: tls['certificate'], key: tls['key'] }, ...redirectHttp };
  return redirectHttp;
}
