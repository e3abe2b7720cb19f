// Secrets and configs on the engine backend (no Swarm secret store): each
// file is copied into the created container before it starts, through the
// archive API, with its uid, gid and mode — what `docker compose` does for
// secrets from the environment. The content goes from memory to the engine
// and nowhere else: never to the data dir, a host path or a log. It lives in
// the container's writable layer, so it survives restarts of the container
// and goes away with it.

import type Docker from 'dockerode';
import type { DeployContext } from '../backend.js';
import type { DesiredService } from '../../desired/model.js';
import { toCapstanError } from './errors.js';
import { tarStream, type TarEntry } from './tar.js';

/** Reads (and decrypts) every file first, so a missing key fails before anything running is touched. */
export async function readFiles(service: DesiredService, ctx: DeployContext): Promise<TarEntry[]> {
  const files = [...(service.spec.secrets ?? []), ...(service.spec.configs ?? [])];
  if (files.length === 0) return [];
  const read = ctx.readContent;
  if (read === undefined) throw new Error(`${service.stack}/${service.name} has secrets or configs but no content reader was given`);
  const entries: TarEntry[] = [];
  for (const f of files) entries.push({ name: f.target.replace(/^\/+/, ''), data: await read(f), mode: f.mode, uid: f.uid, gid: f.gid });
  return entries;
}

export async function injectFiles(docker: Docker, endpoint: string, containerId: string, service: DesiredService, entries: readonly TarEntry[]): Promise<void> {
  if (entries.length === 0) return;
  try {
    // Missing parent directories (/run/secrets) are made by the engine; existing ones keep their owner and mode.
    await docker.getContainer(containerId).putArchive(tarStream(entries), { path: '/' });
  } catch (err) {
    throw toCapstanError(err, `copy secrets and configs into ${service.stack}-${service.name}`, endpoint);
  }
}
