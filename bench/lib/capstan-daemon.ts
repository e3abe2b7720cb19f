// Capstan inside a running daemon: the parent side of bench/daemon-pass.ts.
// Start-up is paid once, as in `capstan run`, and only the pass is timed —
// by the child itself, so pipe latency is not in the number. The cold pass
// is each child's first pass against a fresh data dir and an empty engine,
// so it includes what a restarted daemon pays once (clone, lazy imports).

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { DaemonMessage } from '../daemon-pass.js';
import { cleanupInstance, expectConverged, type CapstanTarget } from './capstan-cli.js';
import type { Contender } from './results.js';

const DAEMON_BUNDLE = new URL('../../.tmp/bench/daemon-pass.mjs', import.meta.url).pathname;
const REPLY_TIMEOUT_MS = 180_000;

class DaemonClient {
  private readonly lines: AsyncIterator<string>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    rl: Interface,
  ) {
    this.lines = rl[Symbol.asyncIterator]();
  }

  static async start(target: CapstanTarget, dataDir: string): Promise<{ client: DaemonClient; setupMs: number }> {
    const child = spawn(process.execPath, [DAEMON_BUNDLE, target.repo.url, target.instance, dataDir, target.backend ?? 'docker'], { stdio: ['pipe', 'pipe', 'pipe'] });
    // The child's logs are warnings at most; pass them through for the reader.
    child.stderr.pipe(process.stderr);
    const client = new DaemonClient(child, createInterface({ input: child.stdout }));
    const ready = await client.next();
    if (ready.event !== 'ready') throw new Error(`daemon-pass did not start: ${ready.event === 'error' ? ready.message : ready.event}`);
    return { client, setupMs: ready.setupMs };
  }

  private async next(): Promise<DaemonMessage> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`daemon-pass gave no answer within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
    });
    try {
      const line = await Promise.race([this.lines.next(), timeout]);
      if (line.done === true) throw new Error('daemon-pass exited');
      return JSON.parse(line.value) as DaemonMessage;
    } finally {
      clearTimeout(timer);
    }
  }

  async pass(): Promise<{ ms: number; applied: number }> {
    this.child.stdin.write('pass\n');
    const reply = await this.next();
    if (reply.event !== 'pass') throw new Error(`daemon pass failed: ${reply.event === 'error' ? reply.message : reply.event}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end('quit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * `noopPerRound` passes per no-op round: a daemon's pass is cheap, and the
 * p95 the goal cares about needs more samples than the CLI's median does.
 */
export function createCapstanDaemon(target: CapstanTarget, noopPerRound: number): Contender & { setupMs(): number } {
  const notes = new Set<string>();
  let daemon: DaemonClient | undefined;
  let dataDir = '';
  const setups: number[] = [];
  const stop = async () => {
    await daemon?.close();
    daemon = undefined;
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  };
  const live = (): DaemonClient => {
    if (daemon === undefined) throw new Error('capstan in-daemon: no daemon running (cold rounds come first)');
    return daemon;
  };

  return {
    name: 'capstan in-daemon',
    notes,
    setupMs: () => Math.min(...setups),
    async cold() {
      await stop();
      await cleanupInstance(target.instance, target.backend);
      dataDir = await mkdtemp(join(target.scratch, 'daemon-data-'));
      const started = await DaemonClient.start(target, dataDir);
      daemon = started.client;
      setups.push(started.setupMs);
      const t = performance.now();
      await daemon.pass();
      await expectConverged(target.instance, 'capstan in-daemon (cold)', target.backend);
      return performance.now() - t;
    },
    async noop() {
      const out: number[] = [];
      for (let i = 0; i < noopPerRound; i++) {
        const { ms, applied } = await live().pass();
        if (applied !== 0) notes.add(`capstan in-daemon: a no-op pass applied ${applied} operations`);
        out.push(ms);
      }
      return out;
    },
    async change() {
      await target.pushChange();
      const { ms, applied } = await live().pass();
      await expectConverged(target.instance, 'capstan in-daemon (change)', target.backend);
      if (applied !== 1) notes.add(`capstan in-daemon: a one-service change applied ${applied} operations`);
      return ms;
    },
    async dispose() {
      await stop();
      await cleanupInstance(target.instance, target.backend);
    },
  };
}
