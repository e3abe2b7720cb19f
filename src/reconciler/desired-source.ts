// Turns a revision into its desired state: read the manifests at that commit,
// load and validate them, build the model. A commit is immutable, so the
// result (good or bad) is memoized by sha: a no-op pass reads no blobs.
//
// The daemon also needs each stack on its own (RevisionModel): its desired
// stack, or the problems of the files it reads (a bad file holds back only
// the stacks that read it), and a fingerprint of everything it reads by Git
// id, so a commit wakes only the lanes whose stacks it changed.

import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import type { DesiredStack, DesiredState } from '../desired/model.js';
import { buildDesired } from '../desired/build.js';
import { ManifestsInvalidError, type ValidationError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { HostFiles } from '../manifests/files.js';
import type { LoadResult, ReusableStack } from '../manifests/load.js';
import type { OperatorPolicy } from '../manifests/policy.js';
import type { RepoTree } from '../manifests/repo-tree.js';
import { readHostFiles } from '../secrets/host-files.js';
import type { GitSource } from '../source/git-source.js';
import { loadInline, type LoadFn } from './off-thread.js';

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
  /** `swarm`: relative binds must be Git-tracked files (they become Swarm configs). */
  backend?: 'docker' | 'swarm' | undefined;
  /** Resolves a host path's symbolic links, for the host_path rule. */
  resolveHostPath?: ((path: string) => string) | undefined;
  /** Where validation runs: inline by default, in a worker thread for the daemon (off-thread.ts). */
  validate?: LoadFn;
  logger: Logger;
}

/** The repository's own capstan.yaml, read at the same commit as the manifests so a policy change is reviewed with them. */
export const POLICY_FILE = 'capstan.yaml';

/** One stack at one commit. */
export interface StackAtRevision {
  name: string;
  /** The Compose file, relative to the repository root. */
  file: string;
  revision: string;
  /** Hash of the Git ids of every path the stack read, the repository's capstan.yaml and the operator's host files. */
  fingerprint: string;
  /** Undefined when the stack has problems. */
  desired: DesiredStack | undefined;
  /** The problems of the files this stack reads (and of capstan.yaml); empty when valid. */
  errors: readonly ValidationError[];
}

export interface RevisionModel {
  revision: string;
  /** By stack name. */
  stacks: ReadonlyMap<string, StackAtRevision>;
  /** Every problem of the commit. */
  errors: readonly ValidationError[];
}

interface Entry {
  model: RevisionModel;
  desired: DesiredState;
}

/** What a plan needs of the desired state: the model of a revision. */
export interface DesiredSource {
  load(revision: string): Promise<DesiredState>;
}

export class DesiredLoader implements DesiredSource {
  /** In flight or done: a commit validated once, however many callers ask meanwhile. */
  private readonly cache = new Map<string, Promise<Entry>>();
  /**
   * The clean stacks of the last commit read, by compose file, with their
   * fingerprints: a stack whose fingerprint is the same at the next commit
   * is not parsed again (a commit that touches one stack of a hundred
   * validates one).
   */
  private reusable = new Map<string, Reusable>();

  constructor(private readonly opts: DesiredLoaderOptions) {}

  /** The desired state at `revision`; throws ManifestsInvalidError with every problem of the commit. */
  async load(revision: string): Promise<DesiredState> {
    const entry = await this.entry(revision);
    if (entry.model.errors.length > 0) throw new ManifestsInvalidError(entry.model.errors, revision);
    return entry.desired;
  }

  /** Every stack at `revision` on its own, valid or not; never throws for bad manifests. */
  async loadRevision(revision: string): Promise<RevisionModel> {
    return (await this.entry(revision)).model;
  }

  private async entry(revision: string): Promise<Entry> {
    // Host files can change between commits (a rotated secret), so their digests are part of the key.
    const host = await readHostFiles(this.opts.secretsDir);
    const hostKey = [...host.digests].map(([p, d]) => `${p}=${d}`).join('\0');
    const key = `${revision}\0${hostKey}`;
    let entry = this.cache.get(key);
    if (entry === undefined) {
      entry = this.read(revision, host, hostKey);
      // Only the newest few commits matter to a running daemon.
      if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, entry);
      // A read that failed for another reason (Git, a crashed worker) is tried again next time.
      entry.catch(() => this.cache.delete(key));
    }
    return entry;
  }

  private async read(revision: string, hostFiles: HostFiles, hostKey: string): Promise<Entry> {
    const [files, policyFiles, tree] = await Promise.all([
      this.opts.source.readFiles(revision, this.opts.path),
      this.opts.source.readFiles(revision, POLICY_FILE),
      this.opts.source.listTree(revision),
    ]);
    const policyText = policyFiles.get(POLICY_FILE);
    const reuse = new Map([...this.reusable].filter(([, r]) => stackFingerprint(revision, tree, hostKey, r.reads) === r.fingerprint));
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
      backend: this.opts.backend,
      reuse,
    });
    for (const w of result.warnings) {
      this.opts.logger.warn({ revision, file: w.file, line: w.line }, `${w.file}:${w.line}:${w.col} ${w.path ? `${w.path}: ` : ''}${w.message}`);
    }
    const desired = buildDesired(revision, result.stacks);
    const model = perStack(revision, result, desired, tree, hostKey);
    this.reusable = reusableStacks(result, model);
    return { desired, model };
  }
}

/** Hash of the Git ids of every path a stack read, with the repository's capstan.yaml and the operator's host files. */
function stackFingerprint(revision: string, tree: RepoTree, hostKey: string, reads: readonly string[]): string {
  const hash = createHash('sha256').update(`${tree.get(POLICY_FILE)?.id ?? 'absent'}\0${hostKey}\0`);
  for (const path of reads) hash.update(`${path}=${path === '*' ? revision : tree.get(path)?.id ?? '-'}\0`);
  return hash.digest('hex');
}

function perStack(revision: string, result: LoadResult, desired: DesiredState, tree: RepoTree, hostKey: string): RevisionModel {
  const readers = (file: string) => result.inputs.filter((i) => i.reads.includes(file) || i.reads.includes('*'));
  // A problem in a file no stack reads (capstan.yaml, a duplicate name) holds back every stack.
  const everyone = result.errors.filter((e) => readers(e.file).length === 0);
  const stacks = new Map<string, StackAtRevision>();
  for (const input of result.inputs) {
    const errors = [...everyone, ...result.errors.filter((e) => !everyone.includes(e) && readers(e.file).some((r) => r.name === input.name))];
    const stack = desired.stacks.find((s) => s.name === input.name);
    stacks.set(input.name, { name: input.name, file: input.file, revision, fingerprint: stackFingerprint(revision, tree, hostKey, input.reads), desired: errors.length === 0 ? stack : undefined, errors });
  }
  return { revision, stacks, errors: result.errors };
}

/** A clean stack of the last load, with the fingerprint of its reads then. */
type Reusable = ReusableStack & { fingerprint: string };

/** The stacks of a load that a later load may take as they are: clean, and not reading every path. */
function reusableStacks(result: LoadResult, model: RevisionModel): Map<string, Reusable> {
  const specs = new Map(result.stacks.map((s) => [s.name, s]));
  const out = new Map<string, Reusable>();
  for (const input of result.inputs) {
    const spec = specs.get(input.name);
    const at = model.stacks.get(input.name);
    if (spec === undefined || at === undefined || at.errors.length > 0 || input.reads.includes('*')) continue;
    out.set(input.file, { name: input.name, reads: input.reads, spec, fingerprint: at.fingerprint });
  }
  return out;
}

/** Does any service need the commit's files on disk: a relative bind of tracked files, or a build context? (Secret and config files are read from Git objects.) */
export function needsCheckout(desired: Pick<DesiredState, 'stacks'>): boolean {
  return desired.stacks.some((stack) =>
    stack.services.some((s) => s.spec.volumes.some((m) => m.type === 'bind' && m.relative && m.persistent !== true) || s.spec.build !== undefined),
  );
}
