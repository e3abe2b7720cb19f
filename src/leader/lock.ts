// What leading an instance takes: one or more locks, each freed when its
// holder dies (see ./file-lock.ts and src/backends/docker/lease.ts).

export interface HeldLock {
  /** Settles with a reason if the lock is lost while held. */
  readonly lost: Promise<string>;
  release(): Promise<void>;
}

export interface LeaderLock {
  /** For logs: `<data-dir>/prod.leader`, `lease container capstan-lease-prod on unix:///var/run/docker.sock`. */
  readonly name: string;
  /** Who holds it now (as its holder described itself); undefined when free. */
  holder(): Promise<string | undefined>;
  /** Waits for the lock; undefined when `signal` aborted first. */
  acquire(signal: AbortSignal): Promise<HeldLock | undefined>;
}
