// Turns the measurements into the markdown the issue asks for: one table of
// medians with ratios against peers measured in the same run, and a verdict
// per goal. Reported, never asserted: a slow run prints ❌, it does not fail.

import type { ContenderResult } from './results.js';
import { formatMs, type Samples } from './timing.js';

export interface BenchResults {
  when: string;
  machine: string;
  /** 1-minute load averages when the bench started and ended: this machine is shared. */
  load: { before: number; after: number };
  floor: Samples;
  compose: ContenderResult;
  swarm: ContenderResult | undefined;
  cli: ContenderResult;
  daemon: ContenderResult;
  daemonSetupMs: number;
  startup: { nodeBare: Samples; capstanHelp: Samples; composeVersion: Samples };
}

/** Goals of issue 2, as thresholds on medians. */
export const GOALS = {
  coldVsCompose: 1.0,
  coldVsFloor: 1.3,
  noopVsCompose: 0.5,
  noopDaemonMs: 50,
  changeVsCompose: 0.5,
} as const;

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const mark = (ok: boolean) => (ok ? '✅' : '❌');
const med = (s: Samples | undefined) => formatMs(s?.median);

/** The three Capstan/compose measurements are always taken; a missing one is a bench bug. */
function need(s: Samples | undefined, what: string): Samples {
  if (s === undefined) throw new Error(`report: no samples for ${what}`);
  return s;
}

interface Full {
  cold: Samples;
  noop: Samples;
  change: Samples;
}

function full(r: ContenderResult, who: string): Full {
  return { cold: r.cold, noop: need(r.noop, `${who} no-op`), change: need(r.change, `${who} change`) };
}

export function renderReport(results: BenchResults): string {
  const r = { ...results, cli: full(results.cli, 'capstan CLI'), daemon: full(results.daemon, 'capstan in-daemon') };
  const c = full(results.compose, 'docker-compose');
  const coldCli = r.cli.cold.median;
  const coldOk = coldCli / c.cold.median <= GOALS.coldVsCompose;
  const floorOk = coldCli / r.floor.median <= GOALS.coldVsFloor;
  const noopOk = r.cli.noop.median / c.noop.median <= GOALS.noopVsCompose;
  const noopDaemonOk = r.daemon.noop.median < GOALS.noopDaemonMs;
  const changeOk = r.cli.change.median / c.change.median <= GOALS.changeVsCompose;

  const rows = [
    [
      'cold converge (20 services)',
      med(r.cli.cold),
      med(r.daemon.cold),
      med(c.cold),
      med(r.swarm?.cold),
      med(r.floor),
      `CLI ${ratio(coldCli, c.cold.median)} · daemon ${ratio(r.daemon.cold.median, c.cold.median)} (vs floor: CLI ${ratio(coldCli, r.floor.median)}, compose ${ratio(c.cold.median, r.floor.median)})`,
      `${mark(coldOk)} CLI ≤ 1.00× compose · ${mark(floorOk)} CLI ≤ 1.30× floor`,
    ],
    [
      'no-op pass',
      med(r.cli.noop),
      `${med(r.daemon.noop)} (p95 ${formatMs(r.daemon.noop.p95)})`,
      med(c.noop),
      med(r.swarm?.noop),
      '—',
      `CLI ${ratio(r.cli.noop.median, c.noop.median)} · daemon ${ratio(r.daemon.noop.median, c.noop.median)}`,
      `${mark(noopOk)} CLI ≤ 0.50× compose · ${mark(noopDaemonOk)} daemon < 50 ms`,
    ],
    [
      'one-service change',
      med(r.cli.change),
      med(r.daemon.change),
      med(c.change),
      med(r.swarm?.change),
      '—',
      `CLI ${ratio(r.cli.change.median, c.change.median)} · daemon ${ratio(r.daemon.change.median, c.change.median)}`,
      `${mark(changeOk)} CLI ≤ 0.50× compose`,
    ],
  ];
  const header = ['measurement', 'capstan CLI', 'capstan in-daemon', 'docker-compose', 'swarm', 'floor', 'ratio vs compose', 'goal met?'];
  const table = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');

  const samples = (name: string, s: Samples | undefined) =>
    s === undefined ? `- ${name}: not measured` : `- ${name}: ${s.values.map((v) => formatMs(v)).join(', ')}`;
  const notes = [...results.compose.notes, ...(results.swarm?.notes ?? []), ...results.cli.notes, ...results.daemon.notes];

  return [
    `# Converge benchmark (issue 2)`,
    '',
    `${r.when} · ${r.machine} · load average ${r.load.before.toFixed(2)} at start, ${r.load.after.toFixed(2)} at end`,
    '',
    'Medians; ratios are capstan ÷ compose from this same run (lower is better). Floor, compose and both Capstan modes ran',
    'interleaved round by round on a plain engine; swarm ran in its own block afterwards (swarm mode on, then left again).',
    'Cold: 20 services from nothing to all running (swarm: deploy until every task runs). Change: one service\'s environment edited.',
    '',
    table,
    '',
    '## Start-up cost (medians)',
    '',
    `- \`node -e ''\`: ${med(r.startup.nodeBare)}`,
    `- \`capstan --help\`: ${med(r.startup.capstanHelp)}`,
    `- \`docker-compose version\`: ${med(r.startup.composeVersion)}`,
    `- in-daemon context set-up (once per daemon): ${formatMs(r.daemonSetupMs)}`,
    '',
    '## Samples',
    '',
    samples('floor (20× parallel docker run -d)', r.floor),
    samples('compose cold', c.cold),
    samples('compose no-op', c.noop),
    samples('compose change', c.change),
    samples('swarm cold', r.swarm?.cold),
    samples('swarm no-op (deploy command)', r.swarm?.noop),
    samples('swarm change', r.swarm?.change),
    samples('capstan CLI cold', r.cli.cold),
    samples('capstan CLI no-op', r.cli.noop),
    samples('capstan CLI change', r.cli.change),
    samples('capstan in-daemon cold (first pass of a fresh daemon)', r.daemon.cold),
    samples('capstan in-daemon no-op', r.daemon.noop),
    samples('capstan in-daemon change', r.daemon.change),
    '',
    ...(notes.length === 0 ? [] : ['## Notes', '', ...notes.map((n) => `- ${n}`), '']),
  ].join('\n');
}
