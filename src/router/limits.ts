// The router's edge limits: how long a client may take and how many
// connections it may hold, on the HTTP entry and on published ports alike.
// Defaults are those of a hardened edge proxy (nginx's, mostly shorter); the
// operator changes them with flags or the --config file.

import net from 'node:net';

export interface EdgeLimits {
  /** From a connection's accept, or a keep-alive request's first byte, until its whole head is in (slowloris). */
  headTimeoutMs: number;
  /** Between two reads of a request body, and while a client takes none of its answer. */
  bodyTimeoutMs: number;
  /** A keep-alive connection with no request in progress. */
  keepAliveTimeoutMs: number;
  /** An upgraded (WebSocket) connection with no byte either way. */
  tunnelIdleTimeoutMs: number;
  /** A published-port (L4) connection with no byte either way. */
  l4IdleTimeoutMs: number;
  /** Open client connections, all entries together; a new one over the cap is closed at once. */
  maxConnections: number;
  /** Open client connections from one IP address, all entries together. */
  maxConnectionsPerIp: number;
  /** Peers (addresses or CIDR ranges) whose X-Forwarded-For/-Proto/-Host are passed on; everyone else's are replaced. */
  trustedProxies: readonly string[];
}

export const DEFAULT_LIMITS: EdgeLimits = Object.freeze({
  headTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  keepAliveTimeoutMs: 60_000,
  tunnelIdleTimeoutMs: 3_600_000,
  l4IdleTimeoutMs: 3_600_000,
  maxConnections: 10_000,
  maxConnectionsPerIp: 1_000,
  trustedProxies: Object.freeze([]),
});

/** `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`: undefined when valid, else why not. */
export function trustedProxyProblem(entry: string): string | undefined {
  const [addr, bits, ...rest] = entry.split('/');
  const family = net.isIP(addr ?? '');
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR range (e.g. 10.0.0.0/8)`;
  if (bits === undefined) return undefined;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128) ? undefined : `"${entry}": /${bits} is not a prefix length for IPv${family}`;
}

/** Whether a peer address is one of the trusted proxies; undefined when none are configured (the common case costs nothing). */
export function trustedProxyMatcher(entries: readonly string[]): ((address: string) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const list = new net.BlockList();
  for (const e of entries) {
    const [addr, bits] = e.split('/') as [string, string | undefined];
    const type = net.isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (address) => {
    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
    const v4 = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
    const type = net.isIP(v4) === 6 ? 'ipv6' : 'ipv4';
    return net.isIP(v4) !== 0 && list.check(v4, type);
  };
}

/** The `capstan router` flags that give a router these limits; only those that differ from the defaults (a supervisor passes them on). */
export function limitArgs(limits: EdgeLimits): string[] {
  const out: string[] = [];
  const ms: [string, keyof EdgeLimits][] = [
    ['--head-timeout', 'headTimeoutMs'], ['--body-timeout', 'bodyTimeoutMs'], ['--keep-alive-timeout', 'keepAliveTimeoutMs'],
    ['--tunnel-idle-timeout', 'tunnelIdleTimeoutMs'], ['--l4-idle-timeout', 'l4IdleTimeoutMs'],
  ];
  for (const [flag, key] of ms) if (limits[key] !== DEFAULT_LIMITS[key]) out.push(flag, `${String(limits[key])}ms`);
  if (limits.maxConnections !== DEFAULT_LIMITS.maxConnections) out.push('--max-connections', String(limits.maxConnections));
  if (limits.maxConnectionsPerIp !== DEFAULT_LIMITS.maxConnectionsPerIp) out.push('--max-connections-per-ip', String(limits.maxConnectionsPerIp));
  if (limits.trustedProxies.length > 0) out.push('--trusted-proxies', limits.trustedProxies.join(','));
  return out;
}
