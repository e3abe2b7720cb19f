// The engine lease: one leader per instance among operators that share only
// a Docker engine (different hosts or data dirs), where no file lock reaches.
//
// Docker labels cannot be renewed, so a lease cannot be a heartbeat in a
// label. What Docker does offer is the same tie to a live process that the
// data-dir lock has: the leader creates a container named
// `capstan-lease-<instance>` (names are unique per engine: creating it is an
// atomic test-and-set), attaches to its stdin and starts it. Its process is
// `cat`, and the container is made with StdinOnce and AutoRemove: when the
// leader's attach connection closes — it stops, crashes, is killed with -9,
// or loses the engine — the engine closes the container's stdin, `cat`
// exits, and the engine removes the container, which frees the name for
// whoever waits. Waiters look for the name once a second.
//
// Limits (README, "Leader election"): the image must be on the engine
// (`--lease-image`, default Capstan's own); the lease lives as long as the
// attach connection, so a proxy that cuts idle connections between operator
// and engine ends it (the leader then stops); an engine restart ends it too
// (the leader stops, its supervisor restarts it, and it leads again); and a
// leader cut off from the engine keeps no lease but also reaches no engine.

import type Docker from 'dockerode';
import { hostname } from 'node:os';
import { LeadershipError } from '../../errors.js';
import type { HeldLock, LeaderLock } from '../../leader/lock.js';
import { engineMessage, statusCodeOf } from './errors.js';

const POLL_MS = 1000;
/** A lease container that never started belongs to an operator that died between create and start. */
const STALE_CREATED_MS = 10_000;
const HOLDER_LABEL = 'io.capstan.lease-holder';
// Not io.capstan.instance: the lease is no replica of a stack, and the snapshot of owned objects must not see it.
const LEASE_LABEL = 'io.capstan.lease';

export function engineLease(docker: Docker, endpoint: string, instance: string, image: string): LeaderLock {
  const name = `capstan-lease-${instance}`;
  const notRunningSince = new Map<string, number>();

  const holder = async (): Promise<string | undefined> => {
    try {
      const info = await docker.getContainer(name).inspect();
      return info.Config.Labels[HOLDER_LABEL] ?? 'another operator';
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw err;
    }
  };

  /** Removes a lease container left created (or exited, not yet removed) for too long; never a running one. */
  const clearStale = async (): Promise<void> => {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(name).inspect();
    } catch {
      return;
    }
    if (info.State.Running) {
      notRunningSince.clear();
      return;
    }
    const since = notRunningSince.get(info.Id) ?? Date.now();
    notRunningSince.set(info.Id, since);
    if (Date.now() - since >= STALE_CREATED_MS) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  };

  const tryTake = async (): Promise<HeldLock | undefined> => {
    let container: Docker.Container;
    try {
      container = await docker.createContainer({
        name,
        Image: image,
        Cmd: ['cat'],
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        Labels: { [LEASE_LABEL]: instance, [HOLDER_LABEL]: `pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}` },
        HostConfig: { AutoRemove: true, NetworkMode: 'none', Memory: 16 * 1024 * 1024 },
      });
    } catch (err) {
      if (statusCodeOf(err) === 409) return undefined;
      if (statusCodeOf(err) === 404) throw new LeadershipError(`cannot create the lease container ${name}: image ${image} is not on the engine`, 'pull or build it, or pass --lease-image with an image that has `cat` (CAPSTAN_LEASE_IMAGE)');
      throw new LeadershipError(`cannot create the lease container ${name} on ${endpoint}: ${engineMessage(err)}`, 'check that the engine answers');
    }
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadWriteStream;
    let releasing = false;
    const lost = new Promise<string>((resolve) => {
      const end = (why: string): void => {
        if (!releasing) resolve(`the lease container ${name} on ${endpoint} ended (${why})`);
      };
      stream.once('end', () => end('its connection closed'));
      stream.once('error', (err: Error) => end(err.message));
    });
    stream.resume();
    try {
      await container.start();
    } catch (err) {
      // Someone cleared it as stale while this process was slow: it is theirs to take now.
      stream.end();
      if (statusCodeOf(err) === 404 || statusCodeOf(err) === 409) return undefined;
      throw new LeadershipError(`cannot start the lease container ${name}: ${engineMessage(err)}`, 'check that the engine can run the --lease-image');
    }
    return {
      lost,
      async release() {
        releasing = true;
        stream.end();
        await container.remove({ force: true }).catch(() => undefined);
      },
    };
  };

  return {
    name: `lease container ${name} on ${endpoint}`,
    holder,
    async acquire(signal) {
      while (!signal.aborted) {
        const held = await tryTake();
        if (held !== undefined) return held;
        await clearStale();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
      return undefined;
    },
  };
}
