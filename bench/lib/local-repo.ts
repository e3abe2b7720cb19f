// A manifests repository as a plain local directory (`--repo PATH`): the
// daemon watches its branch ref, so a commit here is a trigger without any
// server. Commits go through the git CLI, as a user makes them.

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const AUTHOR = ['-c', 'user.email=bench@localhost', '-c', 'user.name=Capstan Bench', '-c', 'commit.gpgsign=false'];

export class LocalRepo {
  private constructor(readonly dir: string) {}

  /** An empty repository on branch `main` at `<root>/repo`, with a `stacks/` directory. */
  static async create(root: string): Promise<LocalRepo> {
    const dir = join(root, 'repo');
    mkdirSync(join(dir, 'stacks'), { recursive: true });
    await exec('git', ['init', '-q', '-b', 'main'], { cwd: dir });
    return new LocalRepo(dir);
  }

  /** Writes the files (paths relative to the repository) and commits everything. */
  async commit(files: Record<string, string>, message: string): Promise<void> {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), text);
    }
    await exec('git', [...AUTHOR, 'add', '-A'], { cwd: this.dir });
    await exec('git', [...AUTHOR, 'commit', '-qm', message], { cwd: this.dir });
  }

  async head(): Promise<string> {
    return (await exec('git', ['rev-parse', 'HEAD'], { cwd: this.dir })).stdout.trim();
  }
}
