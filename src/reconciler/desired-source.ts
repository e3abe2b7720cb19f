// Turns a revision into its desired state: read the manifests at that commit,
// load and validate them, build the model. A commit is immutable, so the
// result (good or bad) is memoized by sha: a no-op pass reads no blobs.

import type { DesiredState } from '../desired/model.js';
import { buildDesired } from '../desired/build.js';
import { ManifestsInvalidError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { loadStacks } from '../manifests/load.js';
import type { GitSource } from '../source/git-source.js';

export interface DesiredLoaderOptions {
  source: GitSource;
  /** Stacks directory inside the repository (--path). */
  path: string;
  /** Operator environment manifests may interpolate. */
  env: Readonly<Record<string, string>>;
  /** Active Compose profiles (--profile / COMPOSE_PROFILES). */
  profiles?: readonly string[];
  logger: Logger;
}

/** The repository's own capstan.yaml, read at the same commit as the manifests so a policy change is reviewed with them. */
export const POLICY_FILE = 'capstan.yaml';

export class DesiredLoader {
  private readonly cache = new Map<string, DesiredState | ManifestsInvalidError>();

  constructor(private readonly opts: DesiredLoaderOptions) {}

  /** The desired state at `revision`; throws ManifestsInvalidError with every problem of the commit. */
  async load(revision: string): Promise<DesiredState> {
    let entry = this.cache.get(revision);
    if (entry === undefined) {
      entry = await this.read(revision);
      // Only the newest few commits matter to a running daemon.
      if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(revision, entry);
    }
    if (entry instanceof ManifestsInvalidError) throw entry;
    return entry;
  }

  private async read(revision: string): Promise<DesiredState | ManifestsInvalidError> {
    const files = await this.opts.source.readFiles(revision, this.opts.path);
    const policyText = (await this.opts.source.readFiles(revision, POLICY_FILE)).get(POLICY_FILE);
    const result = loadStacks(files, { root: this.opts.path, env: this.opts.env, profiles: this.opts.profiles, policyFile: policyText === undefined ? undefined : { path: POLICY_FILE, text: policyText } });
    for (const w of result.warnings) {
      this.opts.logger.warn({ revision, file: w.file, line: w.line }, `${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}`);
    }
    if (result.errors.length > 0) return new ManifestsInvalidError(result.errors, revision);
    return buildDesired(revision, result.stacks);
  }
}

/** Does any service bind-mount a path from the repository (so the commit must be checked out on disk)? */
export function needsCheckout(desired: DesiredState): boolean {
  return desired.stacks.some((stack) => stack.services.some((s) => s.spec.volumes.some((m) => m.type === 'bind' && m.relative)));
}
