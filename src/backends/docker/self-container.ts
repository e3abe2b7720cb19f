// When Capstan itself runs in a container of the engine it drives, the engine
// resolves bind sources on the host, not in Capstan's file system: relative
// binds point into the data dir, which must then be a host directory mounted
// at the same path inside. Checked once at start-up, and said plainly when it
// is not, because every relative bind would otherwise mount an empty
// directory the engine made on the host.

import type Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Logger } from '../../logging/logger.js';

/** Docker bind-mounts /etc/hostname and friends from /var/lib/docker/containers/<id>/: the id of the container we run in. */
export function ownContainerId(mountinfo: string): string | undefined {
  return /\/containers\/([0-9a-f]{64})\/(?:hostname|hosts|resolv\.conf)\s/.exec(mountinfo)?.[1];
}

export interface ContainerMount {
  Type?: string;
  Name?: string;
  Source?: string;
  Destination?: string;
}

/** Pure: why the engine cannot see `dataDir` at the same path, or undefined when it can. */
export function dataDirProblem(dataDir: string, mounts: readonly ContainerMount[]): string | undefined {
  const inside = (dir: string): boolean => dataDir === dir || dataDir.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  const mount = mounts.filter((m) => m.Destination !== undefined && inside(m.Destination)).sort((a, b) => (b.Destination?.length ?? 0) - (a.Destination?.length ?? 0))[0];
  if (mount?.Destination === undefined) return "it lies in the container's own file system, which the engine cannot bind from";
  if (mount.Type !== 'bind') return `it lies on the ${mount.Type ?? 'unknown'} mount ${mount.Name ?? ''} at ${mount.Destination}, which the engine cannot bind from by path`.replace('  ', ' ');
  const hostPath = posix.join(mount.Source ?? '', posix.relative(mount.Destination, dataDir));
  if (hostPath !== dataDir) return `it is ${hostPath} on the host, so the engine would look for its files at the wrong path`;
  return undefined;
}

/** Logs an error when Capstan runs in a container and relative binds could not work; silent otherwise. */
export async function checkDataDirVisible(docker: Pick<Docker, 'getContainer'>, dataDir: string, logger: Logger, mountinfo?: string): Promise<void> {
  const id = ownContainerId(mountinfo ?? (await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')));
  if (id === undefined) return;
  let mounts: ContainerMount[];
  try {
    mounts = ((await docker.getContainer(id).inspect()) as { Mounts?: ContainerMount[] }).Mounts ?? [];
  } catch {
    // Another engine's container (DOCKER_HOST elsewhere): this engine cannot bind from our file system at all.
    logger.error({ dataDir }, `Capstan runs in a container the engine does not know (${id.slice(0, 12)}): relative bind mounts would point at paths the engine cannot see; run Capstan on the engine's host, or in a container of that engine with its data dir mounted at the same path`);
    return;
  }
  const problem = dataDirProblem(dataDir, mounts);
  if (problem === undefined) return;
  logger.error({ dataDir, container: id.slice(0, 12) }, `Capstan runs in container ${id.slice(0, 12)} and its data dir ${dataDir} is not visible to the engine at that path: ${problem}. Relative bind mounts (config files, data directories) would mount empty directories. Mount a host directory at the same path, e.g. docker run -v ${dataDir}:${dataDir} … --data-dir ${dataDir}`);
}
