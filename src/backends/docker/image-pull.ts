// Pulls registry images through the engine (/images/create), with the Docker
// client's credentials for the image's registry. One pull per reference at a
// time (services sharing an image share its pull), at most PULL_PARALLELISM
// at once. Progress is folded per image and logged at most every 2 s; a pull
// that makes no progress for STALL_MS is cut off. A failure is an
// ImagePullError naming image, registry and reason, and the reference is not
// tried again before its backoff (1 s doubling to 5 min) has passed, so a
// wrong password does not hammer the registry on every trigger.

import { doublingDelayMs } from '../../backoff.js';
import { Semaphore } from '../limited.js';
import type Docker from 'dockerode';
import { ImagePullError, type PullFailure } from '../../errors.js';
import { engineAuthFor, type CredentialStore } from '../../images/credentials.js';
import { describeProgress, PullTracker, type PullEvent } from '../../images/progress.js';
import type { Progress } from '../../logging/progress.js';
import { parseImageRef, repoDigestOf } from '../../manifests/image-ref.js';
import type { Logger } from '../../logging/logger.js';
import type { ObservedImage } from '../../observed/model.js';
import { engineMessage, isConnectionError, statusCodeOf } from './errors.js';

/** Pulls in flight at once; the engine downloads up to 3 layers of each in parallel itself. */
export const PULL_PARALLELISM = 4;
/** A pull with no event for this long is given up (registry stalled). */
const STALL_MS = 120_000;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 300_000;

interface Failed {
  error: ImagePullError;
  failures: number;
  retryAt: number;
}

export class ImagePuller {
  private readonly inFlight = new Map<string, Promise<ObservedImage>>();
  private readonly failed = new Map<string, Failed>();
  private readonly slots = new Semaphore(PULL_PARALLELISM);

  constructor(
    private readonly docker: Docker,
    private readonly credentials: CredentialStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async inspect(ref: string): Promise<ObservedImage | undefined> {
    try {
      const info = await this.docker.getImage(ref).inspect();
      return { id: info.Id, repoDigests: info.RepoDigests ?? [] };
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw err;
    }
  }

  pull(ref: string, progress?: Progress): Promise<ObservedImage> {
    const parsed = parseImageRef(ref);
    const registry = parsed?.registry ?? 'docker.io';
    const held = this.failed.get(ref);
    if (held !== undefined && held.retryAt > this.now()) {
      const wait = Math.ceil((held.retryAt - this.now()) / 1000);
      return Promise.reject(new ImagePullError(ref, registry, held.error.failure, `${held.error.reason} (failed ${held.failures} time${held.failures === 1 ? '' : 's'}; next attempt in ${wait} s)`));
    }
    let run = this.inFlight.get(ref);
    if (run === undefined) {
      run = this.slots.run(() => this.pullOnce(ref, registry, progress))
        .then((image) => {
          this.failed.delete(ref);
          return image;
        }, (err: unknown) => {
          const error = err instanceof ImagePullError ? err : new ImagePullError(ref, registry, 'other', err instanceof Error ? err.message : String(err));
          const failures = (this.failed.get(ref)?.failures ?? 0) + 1;
          this.failed.set(ref, { error, failures, retryAt: this.now() + doublingDelayMs(failures, BACKOFF_FIRST_MS, BACKOFF_MAX_MS) });
          throw error;
        })
        .finally(() => this.inFlight.delete(ref));
      this.inFlight.set(ref, run);
    }
    return run;
  }

  private async pullOnce(ref: string, registry: string, progress: Progress | undefined): Promise<ObservedImage> {
    const parsed = parseImageRef(ref);
    if (parsed === undefined) throw new ImagePullError(ref, registry, 'other', 'not a valid image reference');
    const auth = await engineAuthFor(this.credentials, ref, registry);
    // A digest pins the image: pull exactly that (the engine ignores a tag beside it).
    const repo = stripTagAndDigest(ref);
    const tag = parsed.digest ?? parsed.tag ?? 'latest';
    const log = this.logger.child({ image: ref, registry });
    log.info({ authenticated: auth !== undefined }, `pulling image ${ref}`);
    const key = `pull ${ref}`;
    progress?.update(key, 'starting');
    const tracker = new PullTracker(ref);
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.createImage(auth ?? {}, { fromImage: repo, tag })) as NodeJS.ReadableStream;
    } catch (err) {
      const failure = this.failure(ref, registry, err);
      progress?.done(key, failure.reason, false);
      throw failure;
    }
    const error = await new Promise<string | undefined>((resolve) => {
      let failure: string | undefined;
      let stall = setTimeout(onStall, STALL_MS);
      function onStall(): void {
        failure ??= `no progress for ${STALL_MS / 1000} s`;
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        resolve(failure);
      }
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          clearTimeout(stall);
          resolve(err === null ? failure : err.message);
        },
        (event: PullEvent) => {
          clearTimeout(stall);
          stall = setTimeout(onStall, STALL_MS);
          if (event.error !== undefined || event.errorDetail !== undefined) {
            failure ??= (event.errorDetail?.message ?? event.error ?? 'unknown error').trim();
            return;
          }
          tracker.add(event);
          const p = tracker.progress();
          if (p.layers.total > 0) progress?.update(key, describeProgress(p), p.bytes.total > 0 ? p.bytes.current / p.bytes.total : p.layers.done / p.layers.total);
          if (tracker.logDue(this.now()) && p.layers.total > 0) log.info({ layers: p.layers, bytes: p.bytes }, `pulling image ${ref}: ${describeProgress(p)}`);
        },
      );
    });
    if (error !== undefined) {
      progress?.done(key, error, false);
      throw new ImagePullError(ref, registry, classify(error), error);
    }
    const image = await this.inspect(ref).catch(() => undefined);
    if (image === undefined) {
      progress?.done(key, 'the engine does not have it after the pull', false);
      throw new ImagePullError(ref, registry, 'other', 'the engine reported success but does not have the image');
    }
    const final = tracker.progress();
    progress?.done(key, `pulled, ${describeProgress(final)}`, true);
    const digest = parsed.digest ?? final.digest ?? repoDigestOf(parsed, image.repoDigests);
    log.info({ digest, layers: final.layers, bytes: final.bytes }, `pulled image ${ref}${digest === undefined ? '' : ` (${digest})`}`);
    return image;
  }

  private failure(ref: string, registry: string, err: unknown): ImagePullError {
    if (isConnectionError(err)) return new ImagePullError(ref, registry, 'other', 'the Docker engine does not answer');
    const message = engineMessage(err);
    return new ImagePullError(ref, registry, statusCodeOf(err) === 404 ? 'not-found' : classify(message), message);
  }
}

/** `repo:tag@digest` → `repo`: what the engine's fromImage takes. */
function stripTagAndDigest(ref: string): string {
  const noDigest = ref.replace(/@.*$/, '');
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** The engine's words → what the user should do about them. */
export function classify(message: string): PullFailure {
  if (/unauthorized|authentication required|denied|no basic auth credentials|incorrect username or password/i.test(message)) return 'unauthorized';
  if (/not found|manifest unknown|does not exist|name unknown/i.test(message)) return 'not-found';
  if (/timeout|deadline exceeded|no progress for/i.test(message)) return 'timeout';
  if (/connection refused|no such host|dial tcp|connect:|network is unreachable|server misbehaving|EOF/i.test(message)) return 'unreachable';
  return 'other';
}
