// Turns a revision into its desired state: read the manifests at that commit,
// load and validate them, build the model. A commit is immutable, so the
// result (good or bad) is memoized by sha: a no-op pass reads no blobs.

import { homedir } from 'node:os';
import type { DesiredState } from '../desired/model.js';
import { buildDesired } from '../desired/build.js';
import { ManifestsInvalidError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { HostFiles } from '../manifests/files.js';
import { loadInline, type LoadFn } from './off-thread.js';
import type { OperatorPolicy } from '../manifests/policy.js';
import { readHostFiles } from '../secrets/host-files.js';
import type { GitSource } from '../source/git-source.js';

export interface DesiredLoaderOptions {
  source: GitSource;
  /** Stacks directory inside the repository (--path). */
  path: string;
  /** Operator environment manifests may interpolate. */
  env: Readonly<Record<string, string>>;
  /** Active Compose profiles (--profile / COMPOSE_PROFILES). */
  profiles?: readonly string[];
  /** --secrets-dir: the host directory manifests may read files from. */
  secretsDir?: string | undefined;
  /** --policy: the operator's exceptions, limits and delegations. */
  operatorPolicy?: OperatorPolicy | undefined;
  /** Resolves a host path's symbolic links, for the host_path rule. */
  resolveHostPath?: ((path: string) => string) | undefined;
  /** Where validation runs: inline by default, in a worker thread for the daemon (off-thread.ts). */
  validate?: LoadFn;
  logger: Logger;
}

/** The repository's own capstan.yaml, read at the same commit as the manifests so a policy change is reviewed with them. */
export const POLICY_FILE = 'capstan.yaml';

/** What a pass needs of the desired state: the model of a revision. */
export interface DesiredSource {
  load(revision: string): Promise<DesiredState>;
}

export class DesiredLoader implements DesiredSource {
  /** In flight or done: a commit validated once, however many passes ask meanwhile. */
  private readonly cache = new Map<string, Promise<DesiredState | ManifestsInvalidError>>();

  constructor(private readonly opts: DesiredLoaderOptions) {}

  /** The desired state at `revision`; throws ManifestsInvalidError with every problem of the commit. */
  async load(revision: string): Promise<DesiredState> {
    // Host files can change between commits (a rotated secret), so their digests are part of the key.
    const host = await readHostFiles(this.opts.secretsDir);
    const key = `${revision}\0${[...host.digests].map(([p, d]) => `${p}=${d}`).join('\0')}`;
    let entry = this.cache.get(key);
    if (entry === undefined) {
      entry = this.read(revision, host);
      // Only the newest few commits matter to a running daemon.
      if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, entry);
      // A read that failed for another reason (Git, a crashed worker) is tried again next time.
      entry.catch(() => this.cache.delete(key));
    }
    const done = await entry;
    if (done instanceof ManifestsInvalidError) throw done;
    return done;
  }

  private async read(revision: string, hostFiles: HostFiles): Promise<DesiredState | ManifestsInvalidError> {
    const [files, policyFiles, tree] = await Promise.all([
      this.opts.source.readFiles(revision, this.opts.path),
      this.opts.source.readFiles(revision, POLICY_FILE),
      this.opts.source.listTree(revision),
    ]);
    const policyText = policyFiles.get(POLICY_FILE);
    const result = await (this.opts.validate ?? loadInline)(files, {
      root: this.opts.path,
      env: this.opts.env,
      profiles: this.opts.profiles,
      tree,
      hostFiles,
      policyFile: policyText === undefined ? undefined : { path: POLICY_FILE, text: policyText },
      operatorPolicy: this.opts.operatorPolicy,
      resolveHostPath: this.opts.resolveHostPath,
      home: homedir(),
    });
    for (const w of result.warnings) {
      this.opts.logger.warn({ revision, file: w.file, line: w.line }, `${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}`);
    }
    if (result.errors.length > 0) return new ManifestsInvalidError(result.errors, revision);
    return buildDesired(revision, result.stacks);
  }
}

/** Does any service need the commit's files on disk: a relative bind of tracked files, or a build context? (Secret and config files are read from Git objects.) */
export function needsCheckout(desired: DesiredState): boolean {
  return desired.stacks.some((stack) =>
    stack.services.some((s) => s.spec.volumes.some((m) => m.type === 'bind' && m.relative && m.persistent !== true) || s.spec.build !== undefined),
  );
}
