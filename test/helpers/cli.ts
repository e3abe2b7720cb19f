// Runs the real `capstan` binary (the built bundle, as users run it) and
// captures exit code, stdout and stderr. Never throws on a non-zero exit:
// exit codes are part of what tests assert. Long-running commands (the
// daemon) are spawned with their output handed to the test as it comes.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupInstance } from './docker.js';

const BIN = fileURLToPath(new URL('../../bin/capstan.mjs', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function capstan(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...cleanEnv(), ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `capstan <args>` left running (`run`, `router`); everything it writes goes to `onOutput`. */
export function spawnCapstan(args: readonly string[], onOutput: (text: string) => void, env: Record<string, string | undefined> = {}): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => onOutput(b.toString()));
  child.stderr?.on('data', (b: Buffer) => onOutput(b.toString()));
  return child;
}

/** Stops the router `capstan run --router process` started for `dataDir` (it outlives its daemon by design); none started is fine. */
export function stopRouter(dataDir: string): void {
  try {
    process.kill(Number(readFileSync(join(dataDir, 'router', 'router.pid'), 'utf8')), 'SIGTERM');
  } catch {
    // no router was started, or it is gone already
  }
}

/** After a daemon test: its daemons killed, the router they started stopped, the instance's objects and the data dir removed, its servers closed. */
export async function tearDownDaemons(t: { daemons: readonly (ChildProcess | undefined)[]; dataDir: string; instance: string; servers: readonly { close(): Promise<void> }[] }): Promise<void> {
  for (const d of t.daemons) d?.kill('SIGKILL');
  stopRouter(t.dataDir);
  await cleanupInstance(t.instance);
  for (const s of t.servers) await s.close();
  rmSync(t.dataDir, { recursive: true, force: true });
}

/** The test process's env without Capstan's own variables, so a developer's shell cannot change what a test sees. */
function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CAPSTAN_')) out[k] = v;
  return out;
}

/** GET `path` of a daemon's API with the token it generated into `dataDir` (as `capstan status --data-dir` does). */
export function apiGet(base: string, path: string, dataDir: string): Promise<Response> {
  const token = readFileSync(join(dataDir, 'api.token'), 'utf8').trim();
  return fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

/** The API address the newest daemon in `logs` logged (it listens on port 0). */
export function loggedApi(logs: string): string {
  const found = [...logs.matchAll(/"listen":"(http:\/\/[^"]+)"/g)].at(-1)?.[1];
  if (found === undefined) throw new Error(`the daemon logged no API address; logs:\n${logs.slice(-3000)}`);
  return found;
}

/**
 * Asks the daemon for a sync of every lane and resolves once `stack`'s lane
 * has finished `n` more passes: what "later passes changed nothing" waits
 * on, instead of a sleep.
 */
export async function afterPasses(base: string, dataDir: string, stack: string, n: number, ms = 30_000): Promise<void> {
  type Lanes = { lanes: { stack: string; passes: number; running: boolean }[] };
  const passes = async (): Promise<number> => ((await (await apiGet(base, '/api/status', dataDir)).json()) as Lanes).lanes.find((l) => l.stack === stack)?.passes ?? 0;
  const target = (await passes()) + n;
  const token = readFileSync(join(dataDir, 'api.token'), 'utf8').trim();
  const deadline = Date.now() + ms;
  while ((await passes()) < target) {
    if (Date.now() > deadline) throw new Error(`${stack}'s lane did not pass ${n} more times within ${ms} ms`);
    await fetch(`${base}/api/sync`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    await new Promise((r) => setTimeout(r, 100));
  }
}
