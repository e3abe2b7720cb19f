// Image updates committed to Git (DESIGN §5, Flux's image automation for
// Compose): for every service with x-capstan.image_update, at its interval,
// list its repository's tags in the registry, pick the highest inside the
// range (tag-pick.ts), and write the new tag into the Compose file in place
// (yaml-edit.ts). All updates found by one scan go into one commit,
// `image(<stack>/<service>): 1.4.2 → 1.5.0` with a `Capstan-Image-Update:`
// trailer per update, pushed to --branch (the next pass deploys it like any
// commit) or to --image-update-branch (reviewed as a pull request). A push
// that loses a race is rebuilt on the new tip and retried (BranchWriter).
// Failures are logged, never thrown: the next interval tries again.

import { join } from 'node:path';
import type { DesiredService, DesiredState } from '../desired/model.js';
import { CapstanError, ImageUpdateError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Author } from '../source/author.js';
import { editTree, readCommitInfo } from '../source/commit.js';
import type { GitCredentials } from '../source/credentials.js';
import { BranchWriter } from '../source/push.js';
import { readFilesAt } from '../source/tree.js';
import { parseImageRef } from '../manifests/image-ref.js';
import type { RegistryClient } from './registry.js';
import { pickTag } from './tag-pick.js';
import { findImageSite, setImage, withTag, type ImageSite } from './yaml-edit.js';

export const IMAGE_UPDATE_TRAILER = 'Capstan-Image-Update';

export interface ImageUpdaterOptions {
  repo: string;
  /** The branch Capstan follows (--branch): read from, and written to unless `targetBranch` differs. */
  branch: string;
  /** --image-update-branch, else `branch`. A new target branch starts from `branch`'s tip. */
  targetBranch: string;
  /** The stacks directory (--path): extends and includes stay inside it. */
  path: string;
  dataDir: string;
  credentials: GitCredentials | undefined;
  registry: Pick<RegistryClient, 'listTags'>;
  author: Author;
  logger: Logger;
  now: () => number;
}

export interface ImageUpdate {
  stack: string;
  service: string;
  site: ImageSite;
  from: string;
  to: string;
  image: string;
}

export interface ScanResult {
  /** The commit pushed, when any update was found. */
  commit: string | undefined;
  updates: readonly ImageUpdate[];
}

export class ImageUpdater {
  private readonly lastScan = new Map<string, number>();
  private running: Promise<ScanResult> | undefined;
  /** The reason last logged per service: the same failure is logged once, not at every interval. */
  private readonly reported = new Map<string, string>();

  constructor(private readonly opts: ImageUpdaterOptions) {}

  /** Services whose interval has passed since their last scan. */
  due(desired: DesiredState): DesiredService[] {
    const now = this.opts.now();
    return desired.stacks.flatMap((s) => s.services).filter((s) => {
      const rule = s.spec.capstan.imageUpdate;
      if (rule === undefined) return false;
      const last = this.lastScan.get(`${s.stack}/${s.name}`);
      return last === undefined || now - last >= rule.intervalMs;
    });
  }

  /** Scans what is due, at most one scan at a time (a second call joins the first). */
  scan(desired: DesiredState): Promise<ScanResult> {
    this.running ??= this.scanOnce(desired).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async scanOnce(desired: DesiredState): Promise<ScanResult> {
    const services = this.due(desired);
    if (services.length === 0) return { commit: undefined, updates: [] };
    for (const s of services) this.lastScan.set(`${s.stack}/${s.name}`, this.opts.now());
    const files = new Map(desired.stacks.map((s) => [s.name, s.file]));
    const found = await Promise.all(services.map((s) => this.newerTag(s, files.get(s.stack) ?? '')));
    const candidates = found.flatMap((c) => (c === undefined ? [] : [c]));
    if (candidates.length === 0) return { commit: undefined, updates: [] };
    try {
      return await this.commit(candidates);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.opts.logger.error({ code: error instanceof CapstanError ? error.code : undefined, branch: this.opts.targetBranch }, `cannot commit image updates: ${error.message}`);
      // Try again at the next pass rather than a whole interval later.
      for (const c of candidates) this.lastScan.delete(`${c.stack}/${c.service}`);
      return { commit: undefined, updates: [] };
    }
  }

  /** The newer tag for one service, or undefined (logging why when it cannot tell). */
  private async newerTag(service: DesiredService, file: string): Promise<{ stack: string; service: string; file: string; from: string; to: string } | undefined> {
    const rule = service.spec.capstan.imageUpdate;
    const key = `${service.stack}/${service.name}`;
    const ref = parseImageRef(service.spec.image);
    if (rule === undefined || ref === undefined) return undefined;
    const report = (error: ImageUpdateError): undefined => {
      if (this.reported.get(key) !== error.message) this.opts.logger.warn({ stack: service.stack, service: service.name, code: error.code }, `${error.message} (${error.hint ?? ''})`);
      this.reported.set(key, error.message);
      return undefined;
    };
    if (ref.digest !== undefined || ref.tag === undefined) {
      return report(new ImageUpdateError(service.stack, service.name, `image ${service.spec.image} is pinned to a digest; image_update follows tags`, 'name a tag instead of a digest, or remove image_update'));
    }
    let tags: string[];
    try {
      tags = await this.opts.registry.listTags(ref);
    } catch (err) {
      return report(new ImageUpdateError(service.stack, service.name, `cannot list the tags of ${ref.registry}/${ref.path}: ${err instanceof Error ? err.message : String(err)}`, 'it is tried again at the next interval'));
    }
    const pick = pickTag(ref.tag, tags, { semver: rule.semver, tagPattern: rule.tagPattern });
    if (pick.kind === 'unversioned') return report(new ImageUpdateError(service.stack, service.name, pick.reason, 'use a semver tag (e.g. 1.4.2), or a tag_pattern whose `version` group captures one'));
    this.reported.delete(key);
    if (pick.kind === 'current') {
      this.opts.logger.debug({ stack: service.stack, service: service.name, tag: ref.tag }, `${key}: ${ref.tag} is the newest tag inside ${rule.semver}`);
      return undefined;
    }
    return { stack: service.stack, service: service.name, file, from: pick.from, to: pick.to };
  }

  private async commit(candidates: readonly { stack: string; service: string; file: string; from: string; to: string }[]): Promise<ScanResult> {
    const workGitdir = join(this.opts.dataDir, 'image-updates', 'repo.git');
    const writer = await BranchWriter.open({ repo: this.opts.repo, branch: this.opts.targetBranch, workGitdir, credentials: this.opts.credentials, depth: 1, logger: this.opts.logger });
    const source = this.opts.targetBranch === this.opts.branch ? writer : await BranchWriter.open({ repo: this.opts.repo, branch: this.opts.branch, workGitdir, credentials: this.opts.credentials, depth: 1, logger: this.opts.logger });
    let updates: ImageUpdate[] = [];
    const commit = await writer.commit(async (tip) => {
      // A review branch that does not exist yet starts from the branch Capstan follows.
      const base = tip ?? (await source.tip());
      if (base === undefined) throw new ImageUpdateError(candidates[0]?.stack ?? '', candidates[0]?.service ?? '', `branch ${this.opts.branch} does not exist`, 'check --branch');
      const files = await readFilesAt(writer.store, base, this.opts.path, this.opts.logger);
      const edited = new Map<string, string>();
      updates = [];
      for (const c of candidates) {
        const found = findImageSite(new Map([...files, ...edited]), c.file, c.service);
        if (found.kind === 'error') {
          this.opts.logger.warn({ stack: c.stack, service: c.service, code: 'E_IMAGE_UPDATE' }, `${c.stack}/${c.service}: cannot update its image: ${found.message}`);
          continue;
        }
        const current = parseImageRef(found.image);
        // Someone moved the tag in Git meanwhile (or an earlier scan's commit is on the tip already): leave it.
        if (current?.tag !== c.from) continue;
        const text = edited.get(found.site.file) ?? files.get(found.site.file) ?? '';
        const image = withTag(found.image, c.to);
        const next = setImage(text, found.site.service, image);
        if (next === undefined) continue;
        edited.set(found.site.file, next);
        updates.push({ stack: c.stack, service: c.service, site: found.site, from: c.from, to: c.to, image });
      }
      if (updates.length === 0) return undefined;
      const tree = await editTree(writer.store, (await readCommitInfo(writer.store, base)).tree, edited);
      return { tree, message: commitMessage(updates), ...(tip === undefined ? { parent: base } : {}) };
    }, this.opts.author, this.opts.now);
    if (commit !== undefined) {
      for (const u of updates) this.opts.logger.info({ stack: u.stack, service: u.service, commit, branch: this.opts.targetBranch }, `image(${u.stack}/${u.service}): ${u.from} → ${u.to} committed to ${this.opts.targetBranch} at ${commit.slice(0, 7)}`);
    }
    return { commit, updates: commit === undefined ? [] : updates };
  }
}

/** One update: `image(web/api): 1.4.2 → 1.5.0`; several: a subject counting them and a line each. One trailer per update. */
export function commitMessage(updates: readonly ImageUpdate[]): string {
  const line = (u: ImageUpdate): string => `image(${u.stack}/${u.service}): ${u.from} → ${u.to}`;
  const [only] = updates;
  const subject = updates.length === 1 && only !== undefined ? line(only) : `image: ${updates.length} updates`;
  const body = updates.length > 1 ? ['', ...updates.map((u) => `- ${line(u)}`)] : [];
  const trailers = updates.map((u) => `${IMAGE_UPDATE_TRAILER}: ${u.stack}/${u.service} ${u.from} → ${u.to}`);
  return [subject, ...body, '', ...trailers].join('\n');
}
