// The daemon's look at moving tags (pull_policy always, daily, weekly,
// every_<duration>): for each such image, at its pace, a HEAD on the tag's
// manifest in the registry gives the digest the tag names now — nothing is
// downloaded. Between looks the last answer stands, so the planner always
// has a digest to compare with what runs. A registry that does not answer
// is logged (once per new reason) and changes nothing: what runs keeps
// running, and the next pass asks again.

import type { DesiredService } from '../desired/model.js';
import type { Logger } from '../logging/logger.js';
import { parseImageRef } from '../manifests/image-ref.js';
import type { RegistryClient } from './registry.js';

interface Looked {
  at: number;
  digest: string;
}

export class DigestChecker {
  private readonly looked = new Map<string, Looked>();
  private readonly warned = new Map<string, string>();

  constructor(
    private readonly client: Pick<RegistryClient, 'manifestDigest'>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The registry's digest of each checked tag among `services`: fresh when due, else the last one seen. */
  async digests(services: readonly DesiredService[]): Promise<Map<string, string>> {
    const every = new Map<string, number>();
    for (const s of services) {
      const policy = s.spec.pullPolicy;
      if (policy?.kind !== 'check' || s.spec.build !== undefined) continue;
      if (parseImageRef(s.spec.image)?.digest !== undefined) continue;
      // Several services on one tag: the most eager pace wins.
      every.set(s.spec.image, Math.min(every.get(s.spec.image) ?? Infinity, policy.everyMs));
    }
    const now = this.now();
    const due = [...every].filter(([ref, ms]) => {
      const last = this.looked.get(ref);
      return last === undefined || now - last.at >= ms;
    });
    await Promise.all(due.map(async ([ref]) => {
      const parsed = parseImageRef(ref);
      if (parsed === undefined) return;
      try {
        const digest = await this.client.manifestDigest(parsed);
        this.looked.set(ref, { at: now, digest });
        if (this.warned.delete(ref)) this.logger.info({ image: ref }, `registry answers again for ${ref}`);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (this.warned.get(ref) !== reason) this.logger.warn({ image: ref, registry: parsed.registry }, `cannot look up the digest of ${ref}: ${reason}; what runs keeps running`);
        this.warned.set(ref, reason);
      }
    }));
    const out = new Map<string, string>();
    for (const ref of every.keys()) {
      const last = this.looked.get(ref);
      if (last !== undefined) out.set(ref, last.digest);
    }
    return out;
  }
}
