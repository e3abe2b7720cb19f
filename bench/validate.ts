// Validation time of a big commit (issue 10, item 3): one stack whose
// environment is a 50,000-key mapping. Measured in the same run: Capstan's
// loadStacks (what the daemon's worker thread runs), the YAML parse alone
// (the floor), the YAML library's own duplicate-key check that Capstan used
// before (quadratic in the keys of a mapping), docker-compose 1.29's `config`
// on the same file (the peer), and the default limit's refusal. Medians;
// reported, never asserted. Writes bench/results/validate.md.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { loadStacks } from '../src/manifests/load.js';
import { parseOperatorPolicy } from '../src/manifests/policy.js';
import { formatMs, summarize, type Samples } from './lib/timing.js';


const KEYS = Number(process.env['BENCH_KEYS'] ?? 50_000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const text = `services:\n  app:\n    image: alpine:3.20\n    environment:\n${Array.from({ length: KEYS }, (_, i) => `      KEY_${i}: value-${i}`).join('\n')}\n`;
const files = new Map([['stacks/big.yaml', text]]);
const raised = parseOperatorPolicy('policy.yaml', `limits: { keys_per_mapping: ${KEYS + 1}, file_bytes: ${text.length * 2} }\n`).policy;

interface Timed {
  wall: Samples;
  /** This process's CPU time (user + system): on a machine shared with other work it swings far less than the wall clock. */
  cpu: Samples | undefined;
}

function time(runs: number, fn: () => unknown, ownCpu = true): Timed {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    fn();
    wall.push(performance.now() - t);
    const u = process.cpuUsage(c);
    cpu.push((u.user + u.system) / 1000);
  }
  return { wall: summarize(wall), cpu: ownCpu ? summarize(cpu) : undefined };
}

const ratio = (a: Samples | undefined, b: Samples | undefined): string => (a === undefined || b === undefined ? 'n/a' : `${(a.median / b.median).toFixed(2)}×`);
const loadBefore = loadavg()[0] ?? 0;
process.stderr.write(`bench:validate: ${KEYS} keys, ${RUNS} runs each\n`);
const capstan = time(RUNS, () => {
  const r = loadStacks(files, { root: 'stacks', env: {}, operatorPolicy: raised });
  if (r.errors.length > 0) throw new Error(r.errors[0]?.format());
});
const refused = time(RUNS, () => loadStacks(files, { root: 'stacks', env: {} }));
const floor = time(RUNS, () => parseDocument(text, { uniqueKeys: false, merge: true, keepSourceTokens: true }));
// The library's own check compares each key with every earlier one: at 50,000 keys it takes tens of seconds, so one run.
const before = time(1, () => parseDocument(text, { uniqueKeys: true, merge: true, keepSourceTokens: true }));

let compose: Timed | undefined;
const dir = mkdtempSync(join(tmpdir(), 'capstan-bench-validate-'));
try {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'docker-compose.yml'), text);
  // Another process: its CPU time is not ours to read, so only the wall clock (start-up included).
  compose = time(Math.min(RUNS, 3), () => execFileSync('docker-compose', ['-f', join(dir, 'docker-compose.yml'), 'config', '-q'], { stdio: 'ignore' }), false);
} catch (err) {
  process.stderr.write(`bench:validate: docker-compose not measured (${err instanceof Error ? err.message.split('\n')[0] : String(err)})\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const rows: [string, Timed | undefined][] = [
  [`Capstan loadStacks, ${KEYS} keys (limits raised)`, capstan],
  ['Capstan, refused at the default limits (a file over 1 MiB)', refused],
  ['YAML parse alone (floor)', floor],
  ['YAML parse with the library\'s duplicate check (Capstan before)', before],
  ['docker-compose 1.29 `config -q` (whole process)', compose],
];
const out = [
  `# bench:validate — ${KEYS}-key mapping, ${new Date().toISOString().slice(0, 16)}Z, load ${loadBefore.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}`,
  '',
  '| what | wall median | wall min | CPU median |',
  '|---|---|---|---|',
  ...rows.map(([what, t]) => `| ${what} | ${t === undefined ? 'n/a' : formatMs(t.wall.median)} | ${t === undefined ? '' : formatMs(t.wall.min)} | ${t?.cpu === undefined ? '' : formatMs(t.cpu.median)} |`),
  '',
  `CPU: Capstan / floor ${ratio(capstan.cpu, floor.cpu)}, before / now ${ratio(before.cpu, capstan.cpu)}; wall: Capstan / docker-compose ${compose === undefined ? 'n/a' : `${(capstan.wall.median / compose.wall.median).toFixed(2)}×`}. Goal, under 1 s: ${(capstan.cpu?.median ?? Infinity) < 1000 ? '✅' : '❌'} by CPU time, ${capstan.wall.median < 1000 ? '✅' : '❌'} by the wall clock.`,
  '',
].join('\n');
process.stdout.write(out);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/validate.md', out);
