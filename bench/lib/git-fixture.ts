// The Git side of the bench: the project's own smart-HTTP server
// (scripts/git-server.mjs, `git http-backend` as CGI) serving a bare repo
// whose `stacks/bench.yaml` is the 20-service stack. Capstan fetches it over
// HTTP exactly as it would from a forge, so fetch cost is in every pass.
// Changes are committed in a work clone with the git CLI and pushed over the
// same server.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';
import { stackYaml } from './stack.js';

/** The shape of scripts/git-server.mjs (plain JS, no declaration file). */
interface GitServerModule {
  startGitServer(opts: { root: string; port?: number; host?: string }): Promise<{ url: string; close(): Promise<void> }>;
  createBareRepo(root: string, name: string, opts?: { seedDir?: string; branch?: string }): Promise<string>;
}

// Resolved at run time rather than bundled: bench/lib/*.ts and the bundle in
// .tmp/bench/*.mjs both sit two levels below the repository root, and a
// typed dynamic import avoids needing a .d.ts beside a file this bench does
// not own.
const GIT_SERVER_URL = new URL('../../scripts/git-server.mjs', import.meta.url).href;

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Capstan Bench',
  GIT_AUTHOR_EMAIL: 'bench@localhost',
  GIT_COMMITTER_NAME: 'Capstan Bench',
  GIT_COMMITTER_EMAIL: 'bench@localhost',
  GIT_TERMINAL_PROMPT: '0',
};

export interface GitFixture {
  /** Clone URL of the manifests repository. */
  readonly url: string;
  /** Commit `stacks/bench.yaml` at `generation` and push it; resolves once the server has it. */
  push(generation: number): Promise<void>;
  close(): Promise<void>;
}

export async function startGitFixture(root: string, generation: number): Promise<GitFixture> {
  const mod = (await import(GIT_SERVER_URL)) as GitServerModule;
  const seed = join(root, 'seed');
  await mkdir(join(seed, 'stacks'), { recursive: true });
  await writeFile(join(seed, 'stacks', 'bench.yaml'), stackYaml(generation));
  await mod.createBareRepo(join(root, 'git'), 'bench', { seedDir: seed });
  const server = await mod.startGitServer({ root: join(root, 'git') });
  const url = `${server.url}/bench.git`;

  const work = join(root, 'work');
  const git = (args: string[]) => run('git', ['-c', 'commit.gpgsign=false', ...args], { cwd: work, env: GIT_ENV, timeoutMs: 30_000 });
  await run('git', ['clone', '--quiet', url, work], { env: GIT_ENV, timeoutMs: 30_000 });

  return {
    url,
    async push(next: number) {
      await writeFile(join(work, 'stacks', 'bench.yaml'), stackYaml(next));
      await git(['commit', '--quiet', '-am', `bench: generation ${next}`]);
      await git(['push', '--quiet', 'origin', 'HEAD:main']);
    },
    close: () => server.close(),
  };
}
