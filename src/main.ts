// Entry point: runs one command, and is the only place where errors become
// words on stderr and exit codes. `capstan apply` first asks a daemon that
// leads the instance to make the pass (src/cli/daemon-apply.ts) before the
// command line itself (src/cli/program.ts) is loaded: asked that way, the
// command costs little more than Node's own start.

import { askDaemonToApply, printDaemonApply, quickApplyRequest, type DaemonApply } from './cli/daemon-apply.js';
import { ApplyError, CapstanError, ImagePullError, ManifestsInvalidError } from './errors.js';

export function reportError(err: unknown, write: (line: string) => void): number {
  if (err instanceof ManifestsInvalidError) {
    for (const e of err.errors) write(e.format());
    write(`capstan: ${err.message}`);
    if (err.hint) write(`  ${err.hint}`);
    return 1;
  }
  if (err instanceof ApplyError) {
    write(`capstan: ${err.message}:`);
    // A pull failure says which service it stops on its own; the operation it stopped adds nothing.
    for (const f of err.failures) write(`  ${f.error instanceof ImagePullError ? f.error.message : `${f.operation}: ${f.error.message}`}`);
    const hints = [...new Set(err.failures.flatMap((f) => (f.error instanceof CapstanError && f.error.hint !== undefined ? [f.error.hint] : [])))];
    for (const h of hints) write(`  hint: ${h}`);
    return 1;
  }
  if (err instanceof CapstanError) {
    write(`capstan: ${err.message}`);
    if (err.hint) write(`  hint: ${err.hint}`);
    return 1;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  write(`capstan: unexpected error: ${e.stack ?? e.message}`);
  return 1;
}

const stdout = (line: string): void => void process.stdout.write(`${line}\n`);
const stderr = (line: string): void => void process.stderr.write(`${line}\n`);

/** `apply` with flags the quick path knows: the daemon's answer, printed ('done'), or why it did not apply (for the full command). */
async function quickApply(args: readonly string[]): Promise<'done' | DaemonApply | undefined> {
  if (args[0] !== 'apply') return undefined;
  const request = quickApplyRequest(args.slice(1), process.env, process.cwd());
  if (request === undefined) return undefined;
  const asked = await askDaemonToApply(request, stderr);
  if (asked.kind === 'declined') return asked;
  printDaemonApply(asked.answer, stdout, stderr);
  return 'done';
}

async function main(): Promise<void> {
  try {
    const asked = await quickApply(process.argv.slice(2));
    if (asked === 'done') return;
    const { buildProgram } = await import('./cli/program.js');
    await buildProgram({ daemonAsked: asked }).parseAsync(process.argv);
  } catch (err) {
    process.exitCode = reportError(err, stderr);
  }
}

await main();
