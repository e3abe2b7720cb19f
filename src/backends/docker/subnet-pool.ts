// Capstan's own address pool for stack networks (issue 14 item 7). Docker's
// default pools hold about 30 bridge networks, and every stack gets one: past
// that, `docker network create` fails with "could not find an available,
// non-overlapping IPv4 address pool". So each bridge network Capstan creates
// without an `ipam` of its own gets the first free subnet of a configurable
// pool, skipping every subnet the engine's networks (anyone's) or the host's
// routes and interfaces use. Allocations are serialized in this process;
// another program creating a network at the same moment shows up as an
// overlap answer from the engine, and the next free subnet is tried.

import type Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { SubnetPoolExhaustedError } from '../../errors.js';
import { capacity, firstFree, formatCidr, parseCidr, parseProcRoutes, subnetOf, type Cidr, type SubnetPoolSpec } from './cidr.js';
import { engineMessage } from './errors.js';

/** Overlap answers of the engine when a subnet was taken between our look and our create. */
const OVERLAP = /overlap/i;
const MAX_RACES = 5;

export class SubnetPool {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly spec: SubnetPoolSpec,
    private readonly inUse: () => Promise<Cidr[]>,
  ) {}

  /**
   * Runs `create` with a free subnet of the pool (formatted, e.g.
   * `10.231.4.0/24`), one allocation at a time; returns the subnet used.
   * Throws SubnetPoolExhaustedError when none is left.
   */
  async allocate(network: string, create: (subnet: string) => Promise<void>): Promise<string> {
    const run = this.queue.then(() => this.allocateNow(network, create));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async allocateNow(network: string, create: (subnet: string) => Promise<void>): Promise<string> {
    const raced: Cidr[] = [];
    for (let attempt = 0; ; attempt++) {
      const used = [...(await this.inUse()), ...raced];
      const subnet = firstFree(this.spec, used);
      if (subnet === undefined) {
        const pool = formatCidr(this.spec.pool);
        throw new SubnetPoolExhaustedError(network, pool, this.spec.size, capacity(this.spec));
      }
      try {
        await create(formatCidr(subnet));
        return formatCidr(subnet);
      } catch (err) {
        if (attempt + 1 >= MAX_RACES || !OVERLAP.test(engineMessage(err))) throw err;
        raced.push(subnet);
      }
    }
  }
}

/** Every IPv4 subnet the engine's networks use (all of them, not only Capstan's) and the host's routes and interfaces. */
export async function subnetsInUse(docker: Docker): Promise<Cidr[]> {
  const [networks, routes] = await Promise.all([docker.listNetworks(), readFile('/proc/net/route', 'utf8').catch(() => '')]);
  const out: Cidr[] = parseProcRoutes(routes);
  for (const n of networks) {
    for (const c of n.IPAM?.Config ?? []) {
      const parsed = c.Subnet === undefined ? undefined : parseCidr(c.Subnet);
      if (parsed !== undefined && typeof parsed !== 'string') out.push(parsed);
    }
  }
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      const prefix = a.cidr === null ? 32 : Number(a.cidr.split('/')[1]);
      const subnet = subnetOf(a.address, prefix);
      if (subnet !== undefined) out.push(subnet);
    }
  }
  return out;
}
