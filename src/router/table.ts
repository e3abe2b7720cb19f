// The routing table: the whole contract between the operator (control plane)
// and the router (data plane). Parsed with zod where it crosses a boundary
// (admin API, persisted file); past that the router trusts the frozen value.

import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1).max(255);

const backend = z.object({
  /** Stable identity across tables (the container name): stats, draining and sticky cookies key on it. */
  id: z.string().min(1).max(255).regex(/^[A-Za-z0-9_.:-]+$/, 'use letters, digits, ".", "_", ":" and "-"'),
  host,
  port,
  weight: z.number().int().min(0).max(1000).default(1),
  /** The replica's spec hash and slot: the router counts requests, errors and latency per route and version. Optional: older tables lack them. */
  version: z.string().max(128).optional(),
  slot: z.string().max(32).optional(),
});

const l4Route = z.object({
  listen: z.object({ host: host.default('0.0.0.0'), port }),
  protocol: z.literal('tcp').default('tcp'),
  backends: z.array(backend),
});

/** A certificate the router holds (PUT /certificates/<id>), or one it gets from the ACME directory for the route's host. */
const routeTls = z.union([
  z.object({ certificate: z.string().min(1).max(255).regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, ".", "_" and "-"') }).strict(),
  z.object({ acme: z.literal(true) }).strict(),
]);

const l7Route = z.object({
  /** What the per-route counters are labelled with (`stack/service`); absent: host and path prefix. */
  name: z.string().min(1).max(255).optional(),
  /** Matched against the Host header without its port, case-insensitively; absent matches any host. */
  host: host.optional(),
  pathPrefix: z.string().startsWith('/', 'a path prefix starts with "/"').default('/'),
  backends: z.array(backend),
  sticky: z.boolean().default(false),
  /** Served on the HTTPS entry too, with this certificate (SNI picks it by host). */
  tls: routeTls.optional(),
  /** Plain-HTTP requests get 308 to https:// (ACME challenges excepted). */
  redirectHttp: z.boolean().default(false),
});

export const routingTableInput = z.object({
  /** Ignored on input: the router numbers the tables it accepts. */
  version: z.number().int().min(0).optional(),
  l4: z.array(l4Route).default([]),
  l7: z.array(l7Route).default([]),
  /** The shared HTTP entry port; the router's --http-port when absent. */
  httpPort: port.optional(),
  /** The HTTPS entry port, open while some route has `tls`; the router's --https-port when absent. */
  httpsPort: port.optional(),
}).superRefine((t, ctx) => {
  const seen = new Set<string>();
  const addrOf = new Map<string, string>();
  const checkIds = (backends: readonly { id: string; host: string; port: number }[], path: (string | number)[]): void => {
    backends.forEach((b, j) => {
      const addr = `${b.host}:${b.port}`;
      const prior = addrOf.get(b.id);
      if (prior !== undefined && prior !== addr) {
        ctx.addIssue({ code: 'custom', path: [...path, j, 'id'], message: `backend id ${b.id} names both ${prior} and ${addr}` });
      }
      addrOf.set(b.id, addr);
    });
  };
  t.l7.forEach((r, i) => {
    checkIds(r.backends, ['l7', i, 'backends']);
    if (r.tls !== undefined && r.host === undefined) ctx.addIssue({ code: 'custom', path: ['l7', i, 'tls'], message: 'a TLS route needs a host (SNI picks its certificate by host)' });
    if (r.redirectHttp && r.tls === undefined) ctx.addIssue({ code: 'custom', path: ['l7', i, 'redirectHttp'], message: 'redirecting to HTTPS needs tls on the route' });
  });
  t.l4.forEach((r, i) => {
    const key = `${r.listen.host}:${r.listen.port}`;
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['l4', i, 'listen'], message: `listener ${key} appears twice` });
    seen.add(key);
    checkIds(r.backends, ['l4', i, 'backends']);
    if (t.httpPort !== undefined && r.listen.port === t.httpPort) {
      ctx.addIssue({ code: 'custom', path: ['l4', i, 'listen', 'port'], message: `port ${r.listen.port} is the HTTP entry port` });
    }
    if (t.httpsPort !== undefined && r.listen.port === t.httpsPort) {
      ctx.addIssue({ code: 'custom', path: ['l4', i, 'listen', 'port'], message: `port ${r.listen.port} is the HTTPS entry port` });
    }
  });
});

export type RoutingTableInput = z.input<typeof routingTableInput>;
export type Backend = z.output<typeof backend>;
export type L4Route = z.output<typeof l4Route>;
export type L7Route = z.output<typeof l7Route>;
export interface RoutingTable {
  version: number;
  l4: readonly L4Route[];
  l7: readonly L7Route[];
  httpPort: number | undefined;
  httpsPort?: number | undefined;
}

export type TableParse = { ok: true; table: Omit<RoutingTable, 'version'> & { version: number | undefined } } | { ok: false; problems: string[] };

/** Parse untrusted JSON into a table; problems are one line each, with the path to the bad value. */
export function parseTable(value: unknown): TableParse {
  const r = routingTableInput.safeParse(value);
  if (!r.success) {
    return { ok: false, problems: r.error.issues.map((i) => `${i.path.length === 0 ? 'table' : i.path.join('.')}: ${i.message}`) };
  }
  return { ok: true, table: { version: r.data.version, l4: r.data.l4, l7: r.data.l7, httpPort: r.data.httpPort, ...(r.data.httpsPort === undefined ? {} : { httpsPort: r.data.httpsPort }) } };
}
