// How fast the status branch grows (issue 14 item 3): 20 stacks, 50 deploys
// a day, through the real StatusReporter and Git writer into a real
// repository. Each deploy is a 3-replica rolling update as its lane reports
// it: a first pass that starts it (Ready goes False, Reconciling appears),
// passes as replicas get ready (1/3, 2/3: progress, API only), and the pass
// that converged. Status is committed as DESIGN §5 says; the "every change"
// row commits whenever the file's content changes (what the status writer
// did before lanes). Prints commits and bytes per day (loose objects as
// written, and packed as `git gc` keeps them).
//
// Run: npm run bench:status (no engine needed). DEPLOYS=50 STACKS=20 by default.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { silentLogger } from '../src/logging/logger.js';
import { GitStatusWriter } from '../src/status/git-writer.js';
import type { ServiceStatus } from '../src/status/model.js';
import { StatusReporter, type LaneOutcomeKind, type StackReport } from '../src/status/reporter.js';

const exec = promisify(execFile);
const STACKS = Number(process.env.STACKS ?? 20);
const DEPLOYS = Number(process.env.DEPLOYS ?? 50);

async function git(dir: string, ...args: string[]): Promise<string> {
  return (await exec('git', args, { cwd: dir })).stdout.trim();
}

/** Bytes of the repository's objects: loose as written, then packed by `git gc`. */
async function sizes(dir: string): Promise<{ loose: number; packed: number }> {
  const kib = (out: string, key: string): number => Number(new RegExp(`^${key}: (\\d+)`, 'm').exec(out)?.[1] ?? 0) * 1024;
  const before = await git(dir, 'count-objects', '-v');
  await git(dir, 'gc', '-q', '--aggressive', '--prune=now');
  const after = await git(dir, 'count-objects', '-v');
  return { loose: kib(before, 'size') + kib(before, 'size-pack'), packed: kib(after, 'size-pack') + kib(after, 'size') };
}

const services = (ready: number): Record<string, ServiceStatus> => ({ api: { image: 'example/api:1', specHash: 'h'.repeat(64), replicas: { desired: 3, running: 3, ready } } });

function report(stack: string, revision: string, outcome: LaneOutcomeKind, ready: number): StackReport {
  return {
    outcome,
    input: { stack, revision, outcome: { kind: 'applied' }, services: services(ready), containers: [], converged: outcome === 'converged' },
    health: undefined,
    progress: [],
  };
}

/** One simulated day; `everyChange`: commit whenever content changes (the old rule), by reporting every pass as settled. */
async function day(everyChange: boolean): Promise<{ commits: number; loose: number; packed: number; seconds: number }> {
  const root = mkdtempSync(join(tmpdir(), 'status-growth-'));
  try {
    const repo = join(root, 'repo');
    await exec('git', ['init', '-q', '-b', 'main', repo]);
    await git(repo, '-c', 'user.email=b@b', '-c', 'user.name=b', 'commit', '-q', '--allow-empty', '-m', 'init');
    let clock = Date.parse('2026-12-01T00:00:00Z');
    const now = (): number => clock;
    const writer = new GitStatusWriter({ repo, branch: 'capstan/status', dataDir: join(root, 'data'), credentials: undefined, author: { name: 'Capstan', email: 'capstan@localhost' }, logger: silentLogger(), now });
    const reporter = new StatusReporter({ instance: 'prod', version: '0.1.0', backend: 'docker', writer, autoRevert: undefined, logger: silentLogger(), now });
    const started = performance.now();
    for (let s = 0; s < STACKS; s++) await reporter.report(`stack${s}`, report(`stack${s}`, '0'.repeat(40), 'converged', 3));
    await reporter.settled();
    const base = reporter.commits;
    const step = Math.floor(86_400_000 / (STACKS * DEPLOYS));
    for (let d = 0; d < DEPLOYS; d++) {
      for (let s = 0; s < STACKS; s++) {
        const revision = (d * STACKS + s + 1).toString(16).padStart(40, '0');
        const stack = `stack${s}`;
        const passes: [LaneOutcomeKind, number][] = [['progressing', 0], ['progressing', 1], ['progressing', 2], ['converged', 3]];
        for (const [kind, ready] of passes) {
          clock += 1000;
          await reporter.report(stack, report(stack, revision, everyChange ? 'converged' : kind, ready));
        }
        clock += step - 4000;
      }
    }
    await reporter.settled();
    const seconds = (performance.now() - started) / 1000;
    return { commits: reporter.commits - base, ...(await sizes(repo)), seconds };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const quiet = await day(false);
const every = await day(true);
const kb = (b: number): string => `${(b / 1024).toFixed(0)} KiB`;
console.log(`status branch growth: ${STACKS} stacks × ${DEPLOYS} deploys a day (3-replica rolling updates), real Git writer`);
console.log('| rule | commits/day | commits/deploy | objects/day, loose as written | packed (git gc) |');
console.log('|---|---|---|---|---|');
for (const [name, r] of [['DESIGN §5 (settled passes, condition changes)', quiet], ['every content change (before)', every]] as const) {
  console.log(`| ${name} | ${r.commits} | ${(r.commits / (STACKS * DEPLOYS)).toFixed(2)} | ${kb(r.loose)} | ${kb(r.packed)} |`);
}
console.log(`(a simulated day took ${quiet.seconds.toFixed(0)} s and ${every.seconds.toFixed(0)} s to write)`);
