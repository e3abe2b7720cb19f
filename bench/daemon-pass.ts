// The in-daemon contender: a long-lived process that builds Capstan's pass
// context once and then applies the newest commit on command, in lanes as
// `capstan run` does. It is its own process (not the bench's) so the Git
// server and the bench's polling, which live in the parent, never share its
// event loop. Protocol: one word per stdin line (`pass`, `quit`); one JSON
// object per stdout line. Logs (warn and up) go to stderr.
//
//   node .tmp/bench/daemon-pass.mjs REPO_URL INSTANCE DATA_DIR [BACKEND]

import { createInterface } from 'node:readline';
import { createPassContext } from '../src/cli/context.js';
import { resolveSettings } from '../src/config/settings.js';
import { createLogger } from '../src/logging/logger.js';
import { applyRevision } from '../src/reconciler/one-shot.js';

export type DaemonMessage =
  | { event: 'ready'; setupMs: number }
  | { event: 'pass'; ms: number; applied: number; operations: number }
  | { event: 'error'; message: string };

function send(message: DaemonMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const [repo, instance, dataDir, backend = 'docker'] = process.argv.slice(2);
  const settings = resolveSettings({ repo, instance, dataDir, backend, logLevel: 'warn' }, process.env);
  const logger = createLogger({ format: 'json', level: settings.logLevel });
  const setupStarted = performance.now();
  const ctx = await createPassContext(settings, logger);
  send({ event: 'ready', setupMs: performance.now() - setupStarted });

  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'quit') break;
    if (line !== 'pass') {
      send({ event: 'error', message: `unknown command ${line}` });
      continue;
    }
    try {
      const started = performance.now();
      const model = await ctx.desired.loadRevision(await ctx.source.resolve());
      const stacks = await applyRevision(ctx, model, { syncAllowed: true, force: false });
      const failed = stacks.flatMap((s) => s.last.failures);
      if (failed.length > 0) throw new Error(failed.map((f) => `${f.line}: ${f.error.message}`).join('; '));
      send({ event: 'pass', ms: performance.now() - started, applied: stacks.reduce((n, s) => n + s.applied, 0), operations: stacks.reduce((n, s) => n + s.lines.length, 0) });
    } catch (err) {
      send({ event: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    send({ event: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
