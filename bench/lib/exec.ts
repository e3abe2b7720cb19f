// Running the peers' own CLIs (docker, docker-compose, capstan, git) as child
// processes: a peer's start-up cost is part of what a user pays, so it is
// measured as a user runs it. Every call has a time limit, so a stuck engine
// fails the bench instead of hanging it.

import { spawn } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
  ms: number;
}

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child after this long; default 120 s. */
  timeoutMs?: number;
  /** Resolve instead of throwing when the exit code is not 0. */
  allowFailure?: boolean;
}

export class ExecError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} exited ${exitCode ?? 'by signal'}: ${stderr.trim().split('\n').slice(-5).join('\n')}`);
  }
}

/** Run `file args`, wall-clock timed from spawn to exit. */
export function run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult & { code: number | null }> {
  const label = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code !== 0 && opts.allowFailure !== true) reject(new ExecError(label, code, stderr));
      else resolve({ stdout, stderr, ms, code });
    });
  });
}

/** Timed run that must succeed; returns milliseconds. */
export async function timed(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<number> {
  return (await run(file, args, opts)).ms;
}
