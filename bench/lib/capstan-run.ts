// `capstan run` as a child process, the way a user starts it, and the parts
// of its HTTP API the benches read: lanes from /api/status, syncs, webhooks
// and /metrics. Started with --router none and its own --instance; the
// caller removes what the instance made (cleanupInstance).

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/net.js';
import { CAPSTAN_BIN } from './capstan-cli.js';
import { waitFor } from './timing.js';

export interface RunningDaemon {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:PORT of its API. */
  base: string;
  token: string;
  /** Everything it wrote to stdout and stderr so far. */
  logs: () => string;
}

export interface DaemonStart {
  repo: string;
  instance: string;
  dataDir: string;
  /** More flags for `capstan run`. */
  args?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Flags for node itself (--cpu-prof is not allowed in NODE_OPTIONS). */
  nodeArgs?: readonly string[];
}

export async function startDaemon(opts: DaemonStart): Promise<RunningDaemon> {
  let out = '';
  const port = await freePort();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), CAPSTAN_BIN, 'run', '--repo', opts.repo, '--instance', opts.instance, '--data-dir', opts.dataDir, '--router', 'none', '--listen', `127.0.0.1:${port}`, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CAPSTAN_LOG_LEVEL: 'warn', ...opts.env },
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor("the daemon's API", async () => {
      if (child.exitCode !== null) throw new Error('exited');
      return (await fetch(`${base}/healthz`)).ok ? true : undefined;
    }, 30_000, 50);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`capstan run did not come up: ${err instanceof Error ? err.message : String(err)}\n${out.slice(-2000)}`);
  }
  // The operator's token when it set one, else the one the daemon generated.
  const token = opts.env?.['CAPSTAN_API_TOKEN'] ?? readFileSync(join(opts.dataDir, 'api.token'), 'utf8').trim();
  return { child, pid: child.pid ?? 0, base, token, logs: () => out };
}

/** SIGTERM, then wait for it to exit: a daemon still running would recreate what the cleanup removes. */
export async function stopDaemon(d: RunningDaemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** One lane as /api/status lists it. */
export interface LaneView {
  stack: string;
  outcome: string;
  reason: string;
  durationSeconds: number;
  changes: number;
  passes: number;
  running: boolean;
}

export async function lanes(d: RunningDaemon): Promise<LaneView[]> {
  const res = await fetch(`${d.base}/api/status`, { headers: { authorization: `Bearer ${d.token}` } });
  if (!res.ok) throw new Error(`/api/status answered ${res.status}`);
  return ((await res.json()) as { lanes: LaneView[] }).lanes;
}

/** POST /api/sync: every lane passes once more. */
export async function syncAll(d: RunningDaemon): Promise<void> {
  const res = await fetch(`${d.base}/api/sync`, { method: 'POST', headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' }, body: '{}' });
  if (!res.ok) throw new Error(`/api/sync answered ${res.status}`);
}

/** A sync of every lane, timed from the API call until each lane has passed once more; with the lanes as they ended. */
export async function syncAndWait(d: RunningDaemon, timeoutMs: number, stepMs: number): Promise<{ ms: number; lanes: LaneView[] }> {
  const before = new Map((await lanes(d)).map((l) => [l.stack, l.passes]));
  const t0 = performance.now();
  await syncAll(d);
  const after = await waitFor('every lane to pass', async () => {
    const l = await lanes(d);
    return l.every((x) => x.passes > (before.get(x.stack) ?? 0) && !x.running) ? l : undefined;
  }, timeoutMs, stepMs);
  return { ms: performance.now() - t0, lanes: after };
}

/** POST /hooks/generic with the webhook secret the daemon was started with (CAPSTAN_WEBHOOK_SECRET). */
export async function genericHook(d: RunningDaemon, secret: string): Promise<void> {
  const res = await fetch(`${d.base}/hooks/generic`, { method: 'POST', headers: { authorization: `Bearer ${secret}` } });
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
}

/** The sum and count of a Prometheus histogram (no labels) from /metrics. */
export async function histogram(d: RunningDaemon, name: string): Promise<{ sum: number; count: number }> {
  const res = await fetch(`${d.base}/metrics`, { headers: { authorization: `Bearer ${d.token}` } });
  const text = await res.text();
  const value = (suffix: string): number => Number(new RegExp(`^${name}_${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { sum: value('sum'), count: value('count') };
}
