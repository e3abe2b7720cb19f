// Publishes status documents as commits on the status branch (DESIGN §5):
// one commit per pass that changed a file, none otherwise. For an http(s)
// repository the branch is fetched into and pushed from a bare repository of
// its own under the data dir (never the source cache); for a local path it
// is written into that repository directly.

import { createHash } from 'node:crypto';
import { join, resolve as resolvePath } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { Author } from '../source/author.js';
import { editTree, readCommitInfo } from '../source/commit.js';
import type { GitCredentials } from '../source/credentials.js';
import { BranchWriter } from '../source/push.js';
import { readFilesAt } from '../source/tree.js';
import { STATUS_DIR } from './render.js';

export interface GitStatusWriterOptions {
  repo: string;
  /** The status branch, e.g. capstan/status. */
  branch: string;
  dataDir: string;
  credentials: GitCredentials | undefined;
  author: Author;
  logger: Logger;
  now: () => number;
}

/** Builds the commit message from the paths that changed. */
export type DescribeChange = (changed: readonly string[]) => string;

export class GitStatusWriter {
  private writer: Promise<BranchWriter> | undefined;

  constructor(private readonly opts: GitStatusWriterOptions) {}

  private open(): Promise<BranchWriter> {
    const key = createHash('sha256').update(this.opts.repo).digest('hex').slice(0, 12);
    this.writer ??= BranchWriter.open({
      repo: this.opts.repo,
      branch: this.opts.branch,
      workGitdir: join(resolvePath(this.opts.dataDir), 'status-git', key),
      credentials: this.opts.credentials,
      depth: 1,
      logger: this.opts.logger,
    }).catch((err: unknown) => {
      this.writer = undefined;
      throw err;
    });
    return this.writer;
  }

  /** The status files at the branch's tip (empty when the branch does not exist yet). */
  async read(): Promise<Map<string, string>> {
    const writer = await this.open();
    const tip = await writer.tip();
    if (tip === undefined) return new Map();
    return readFilesAt(writer.store, tip, STATUS_DIR, this.opts.logger);
  }

  /**
   * Write `files` (repo-relative paths → content) and delete `remove` (files
   * of stacks that left Git); everything else on the branch, another
   * writer's files included, is kept. Returns the commit, or undefined when
   * the branch already held this content.
   */
  async write(files: ReadonlyMap<string, string>, remove: readonly string[], describe: DescribeChange): Promise<string | undefined> {
    const writer = await this.open();
    return writer.commit(
      async (tip) => {
        // Rebuilt on every attempt, so a retry after a non-fast-forward re-applies our files on the new tip.
        const current = tip === undefined ? new Map<string, string>() : await readFilesAt(writer.store, tip, STATUS_DIR, this.opts.logger);
        const edits = new Map<string, string | null>();
        for (const [path, content] of files) if (current.get(path) !== content) edits.set(path, content);
        for (const path of remove) if (current.has(path) && !files.has(path)) edits.set(path, null);
        if (edits.size === 0) return undefined;
        const base = tip === undefined ? undefined : (await readCommitInfo(writer.store, tip)).tree;
        return { tree: await editTree(writer.store, base, edits), message: describe([...edits.keys()].sort()) };
      },
      this.opts.author,
      this.opts.now,
    );
  }
}
