// Where the router's admin API listens: its unix socket (the default; only
// users who can enter <data-dir>/router reach it), or a TCP port on the
// loopback guarded by a bearer token, for when the operator and the router
// cannot share a socket file (another uid, a VM between them). Pure parsing.

export type AdminAddress = { kind: 'unix'; path: string } | TcpAdminAddress;
export interface TcpAdminAddress {
  kind: 'tcp';
  host: string;
  port: number;
}

/**
 * `127.0.0.1:9421`, `[::1]:9421` or `localhost:9421`. Only loopback: the
 * token crosses the connection in clear text and the API replaces every route.
 */
export function parseAdminAddress(text: string): { ok: true; address: TcpAdminAddress } | { ok: false; error: string } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (m === null || !(port >= 1 && port <= 65535)) return { ok: false, error: `"${text}" is not HOST:PORT (e.g. 127.0.0.1:9421)` };
  const host = m[1] ?? m[2]!;
  if (host === 'localhost') return { ok: true, address: { kind: 'tcp', host: '127.0.0.1', port } };
  if (!isLoopback(host)) return { ok: false, error: `"${text}" is not on the loopback: the admin API listens on 127.0.0.1 or [::1] only` };
  return { ok: true, address: { kind: 'tcp', host, port } };
}

function isLoopback(host: string): boolean {
  if (host === '::1') return true;
  const octets = host.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

/** For logs and errors: the socket path, or `127.0.0.1:9421`. */
export function formatAdminAddress(a: AdminAddress): string {
  if (a.kind === 'unix') return a.path;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
