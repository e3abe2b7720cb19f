// IPv4 subnets as numbers: parse, print, overlap, and the first subnet of a
// pool that overlaps nothing in use. Pure; the subnet pool (./subnet-pool.ts)
// gathers what is in use and serializes allocations.

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

/** A pool subnets are carved from, each `size` bits of prefix (Docker's `default-address-pools` entry). */
export interface SubnetPoolSpec {
  pool: Cidr;
  size: number;
}

/** `10.0.0.0/8` → Cidr; a string saying what is wrong otherwise (host bits set, bad octet, no prefix). */
export function parseCidr(text: string): Cidr | string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (match === null) return `"${text}" is not an IPv4 subnet like 10.231.0.0/16`;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return `"${text}" is not an IPv4 subnet like 10.231.0.0/16`;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const base = address & mask(prefix);
  if (base >>> 0 !== address) return `"${text}" has host bits set: did you mean ${formatCidr({ base: base >>> 0, prefix })}?`;
  return { base: address, prefix };
}

/** An address (`172.17.0.1`) with its prefix as the subnet it lies in; undefined for anything else (IPv6). */
export function subnetOf(address: string, prefix: number): Cidr | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (match === null || prefix < 0 || prefix > 32) return undefined;
  const value = match.slice(1, 5).map(Number).reduce((acc, o) => acc * 256 + o, 0);
  return { base: (value & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${[24, 16, 8, 0].map((shift) => (c.base >>> shift) & 255).join('.')}/${c.prefix}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(prefix)) >>> 0) === ((b.base & mask(prefix)) >>> 0);
}

/** How many subnets of the pool's size fit in it. */
export function capacity(spec: SubnetPoolSpec): number {
  return 2 ** (spec.size - spec.pool.prefix);
}

/**
 * The first subnet of the pool (in address order, so allocations are
 * predictable and pack from the bottom) that overlaps none of `used`.
 */
export function firstFree(spec: SubnetPoolSpec, used: readonly Cidr[]): Cidr | undefined {
  const step = 2 ** (32 - spec.size);
  for (let i = 0; i < capacity(spec); i++) {
    const candidate = { base: spec.pool.base + i * step, prefix: spec.size };
    if (!used.some((u) => overlaps(u, candidate))) return candidate;
  }
  return undefined;
}

/**
 * Destinations of the kernel's IPv4 routing table (`/proc/net/route`: hex,
 * little-endian), without the default route, which overlaps everything and
 * says nothing about which subnets are taken.
 */
export function parseProcRoutes(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const destination = fields[1];
    const netmask = fields[7];
    if (destination === undefined || netmask === undefined || !/^[0-9A-Fa-f]{8}$/.test(destination) || !/^[0-9A-Fa-f]{8}$/.test(netmask)) continue;
    const prefix = popcount(littleEndian(netmask));
    if (prefix === 0) continue;
    out.push({ base: (littleEndian(destination) & mask(prefix)) >>> 0, prefix });
  }
  return out;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function littleEndian(hex: string): number {
  const bytes = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return (((bytes[3] ?? 0) << 24) | ((bytes[2] ?? 0) << 16) | ((bytes[1] ?? 0) << 8) | (bytes[0] ?? 0)) >>> 0;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v = (v & (v - 1)) >>> 0) count++;
  return count;
}
