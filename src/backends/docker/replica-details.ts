// What `capstan ps` shows beyond the snapshot: when each replica started and
// the image digest it runs. One inspect per container and one per distinct
// image: fine for a command a person runs, too much for every pass, which is
// why the snapshot leaves them out.

import type Docker from 'dockerode';
import type { ObservedContainer } from '../../observed/model.js';

export interface ReplicaDetails {
  /** ms since the epoch, of the current run (running) or the last one. */
  startedAt: number | undefined;
  finishedAt: number | undefined;
  exitCode: number | undefined;
  /** `sha256:…` of the image the container was created from. */
  imageId: string | undefined;
  /** `repo@sha256:…` the image was pulled as (undefined for a local build). */
  repoDigest: string | undefined;
}

type DetailsClient = Pick<Docker, 'getContainer' | 'getImage'>;

/** The label the image pull records the repo digest in (DESIGN §3), read first when a replica carries it. */
const IMAGE_DIGEST_LABEL = 'io.capstan.image-digest';

export async function replicaDetails(docker: DetailsClient, containers: readonly ObservedContainer[]): Promise<Map<string, ReplicaDetails>> {
  const images = new Map<string, Promise<readonly string[]>>();
  const digestsOf = (imageId: string): Promise<readonly string[]> => {
    let p = images.get(imageId);
    if (p === undefined) images.set(imageId, (p = docker.getImage(imageId).inspect().then((i) => i.RepoDigests ?? [], () => [])));
    return p;
  };
  const out = new Map<string, ReplicaDetails>();
  await Promise.all(containers.map(async (c) => {
    // A container removed since the list has nothing more to say.
    const info = await docker.getContainer(c.id).inspect().catch(() => undefined);
    const time = (iso: string | undefined): number | undefined => {
      const ms = iso === undefined ? NaN : Date.parse(iso);
      return Number.isNaN(ms) || ms <= 0 ? undefined : ms;
    };
    const imageId = info?.Image;
    const repo = c.image.split('@', 1)[0]?.replace(/:[^/:]+$/, '');
    const digests = imageId === undefined ? [] : await digestsOf(imageId);
    const repoDigest = c.labels[IMAGE_DIGEST_LABEL] ?? digests.find((d) => d.split('@', 1)[0] === repo) ?? digests[0];
    out.set(c.id, {
      startedAt: time(info?.State.StartedAt),
      finishedAt: time(info?.State.FinishedAt),
      exitCode: info?.State.ExitCode,
      imageId,
      repoDigest,
    });
  }));
  return out;
}
