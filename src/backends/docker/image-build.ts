// Builds the image of a service's `build:` from the repository checkout at
// the deployed commit, with the engine's classic builder. The tag is named
// by the build inputs (manifests/build.ts), so an image with that tag is
// never built again; replicas of one service share one build in flight.
// Output streams to the log line by line; a failure is a BuildError for
// that service alone.

import type Docker from 'dockerode';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DeployContext } from '../backend.js';
import type { DesiredService } from '../../desired/model.js';
import { BuildError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { BuildSpec } from '../../manifests/model.js';
import { isIgnored, parseDockerignore } from './dockerignore.js';
import { statusCodeOf, toCapstanError } from './errors.js';
import { tarStream, type TarEntry } from './tar.js';

/** Where a Dockerfile from outside the context, or an inline one, goes in the archive. */
const EXTRA_DOCKERFILE = '.capstan.Dockerfile';
/** Lines of build output kept for the error of a failed build. */
const TAIL = 5;

interface BuildEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
}

export class ImageBuilder {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly docker: Docker,
    private readonly endpoint: string,
    private readonly logger: Logger,
  ) {}

  /** Makes sure the service's image exists, building it when it does not; a no-op for services without `build:`. */
  ensure(service: DesiredService, ctx: DeployContext): Promise<void> {
    const build = service.spec.build;
    if (build === undefined) return Promise.resolve();
    const image = service.spec.image;
    let run = this.inFlight.get(image);
    if (run === undefined) {
      run = this.ensureOnce(service, build, ctx).finally(() => this.inFlight.delete(image));
      this.inFlight.set(image, run);
    }
    return run;
  }

  private async ensureOnce(service: DesiredService, build: BuildSpec, ctx: DeployContext): Promise<void> {
    const image = service.spec.image;
    const log = this.logger.child({ stack: service.stack, service: service.name, image });
    if (await this.exists(image)) {
      log.debug('image already built; not building again');
    } else {
      if (ctx.checkoutDir === undefined) throw new Error(`build of ${image} needs the checkout of ${ctx.revision}`);
      log.info(`building image ${image} from ${build.context} at ${ctx.revision.slice(0, 7)}`);
      const key = `build ${image}`;
      ctx.progress?.update(key, `from ${build.context}`);
      try {
        await this.build(service, build, ctx.checkoutDir, log, (step, of, text) => ctx.progress?.update(key, `step ${step}/${of}: ${text}`, (step - 1) / of));
      } catch (err) {
        ctx.progress?.done(key, 'failed', false);
        throw err;
      }
      ctx.progress?.done(key, 'built');
      log.info(`built image ${image}`);
    }
    if (build.alsoTag !== undefined) await this.tag(image, build.alsoTag);
  }

  private async exists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (err) {
      if (statusCodeOf(err) === 404) return false;
      throw toCapstanError(err, `inspect image ${image}`, this.endpoint);
    }
  }

  private async tag(image: string, reference: string): Promise<void> {
    const slash = reference.lastIndexOf('/');
    const colon = reference.lastIndexOf(':');
    const [repo, tag] = colon > slash ? [reference.slice(0, colon), reference.slice(colon + 1)] : [reference, 'latest'];
    try {
      await this.docker.getImage(image).tag({ repo, tag });
    } catch (err) {
      throw toCapstanError(err, `tag image ${image} as ${reference}`, this.endpoint);
    }
  }

  /** `onStep` hears each `Step n/m : INSTRUCTION` line of the classic builder. */
  private async build(service: DesiredService, build: BuildSpec, checkoutDir: string, log: Logger, onStep: (step: number, of: number, text: string) => void): Promise<void> {
    const image = service.spec.image;
    const fail = (reason: string, tail: readonly string[] = []): BuildError => new BuildError(service.stack, service.name, image, reason, tail);
    const contextDir = path.join(checkoutDir, build.context);
    const dockerfile = dockerfileInContext(build);
    const entries = contextEntries(contextDir, build, checkoutDir);
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.docker.buildImage(tarStream(entries), {
        t: image,
        dockerfile,
        buildargs: { ...build.args },
        // Only the manifest's labels: containers inherit an image's labels, and io.capstan.* on them would mean "owned by Capstan".
        labels: { ...build.labels },
        ...(build.target === undefined ? {} : { target: build.target }),
        rm: true,
        forcerm: true,
      });
    } catch (err) {
      throw fail(toCapstanError(err, `build image ${image}`, this.endpoint).message);
    }
    const tail: string[] = [];
    // The classic builder reports a failed step as an event in the stream, not as a failed request.
    let failure: string | undefined;
    const error = await new Promise<string | undefined>((resolve) => {
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => resolve(err === null ? failure : err.message),
        (event: BuildEvent) => {
          if (event.error !== undefined || event.errorDetail !== undefined) {
            failure ??= (event.errorDetail?.message ?? event.error ?? 'unknown error').trim();
            return;
          }
          for (const line of (event.stream ?? event.status ?? '').split('\n')) {
            const text = line.trim();
            if (text === '') continue;
            log.info({ build: true }, text);
            const step = /^Step (\d+)\/(\d+) : (.*)$/.exec(text);
            if (step !== null) onStep(Number(step[1]), Number(step[2]), step[3] ?? '');
            tail.push(text);
            if (tail.length > TAIL) tail.shift();
          }
        },
      );
    });
    if (error !== undefined) throw fail(error, tail);
  }
}

/** The Dockerfile's path inside the archive. */
function dockerfileInContext(build: BuildSpec): string {
  if (build.dockerfile === undefined) return EXTRA_DOCKERFILE;
  const rel = path.posix.relative(build.context, build.dockerfile);
  return rel.startsWith('..') ? EXTRA_DOCKERFILE : rel;
}

/**
 * Files of the context minus what .dockerignore leaves out (the Dockerfile
 * and .dockerignore always go, as the Docker CLI sends them), plus an inline
 * Dockerfile or one from outside the context.
 */
async function* contextEntries(contextDir: string, build: BuildSpec, checkoutDir: string): AsyncGenerator<TarEntry> {
  const ignoreText = await readFile(path.join(contextDir, '.dockerignore'), 'utf8').catch(() => '');
  const patterns = parseDockerignore(ignoreText);
  const dockerfile = dockerfileInContext(build);
  const keep = new Set([dockerfile, '.dockerignore']);
  const files = (await readdir(contextDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(contextDir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
  for (const name of files) {
    if (!keep.has(name) && isIgnored(patterns, name)) continue;
    const full = path.join(contextDir, name);
    const info = await stat(full);
    yield { name, data: await readFile(full), mode: info.mode & 0o777 };
  }
  if (build.dockerfileInline !== undefined) yield { name: EXTRA_DOCKERFILE, data: Buffer.from(build.dockerfileInline, 'utf8'), mode: 0o644 };
  else if (dockerfile === EXTRA_DOCKERFILE && build.dockerfile !== undefined) yield { name: EXTRA_DOCKERFILE, data: await readFile(path.join(checkoutDir, build.dockerfile)), mode: 0o644 };
}
