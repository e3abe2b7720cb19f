// Validation of a commit off the daemon's main thread. Parsing and checking
// a large commit is CPU work measured in seconds; on the main thread it
// would stop the HTTP API, the Docker event stream and the probes for as
// long. A worker thread does it instead, started when a commit has much to
// parse and stopped when idle (it holds tens of MB); a commit with little
// new to parse (most: the loader reuses unchanged stacks) is loaded inline
// in a few milliseconds. Where the worker's bundle file is missing (running
// from sources), every load runs inline.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ValidationError } from '../errors.js';
import { loadStacks, type LoadOptions, type LoadResult, type StackInputs } from '../manifests/load.js';
import type { ManifestWarning, StackSpec } from '../manifests/model.js';

/** What crosses to the worker: everything but functions (the worker resolves host paths itself). */
export interface LoadRequest {
  id: number;
  files: ReadonlyMap<string, string>;
  opts: Omit<LoadOptions, 'resolveHostPath'>;
}

export type LoadReply =
  | { id: number; stacks: StackSpec[]; inputs: StackInputs[]; warnings: ManifestWarning[]; errors: { file: string; line: number; col: number; path: string; message: string; hint: string | undefined }[] }
  | { id: number; crash: string };

export type LoadFn = (files: ReadonlyMap<string, string>, opts: LoadOptions) => Promise<LoadResult>;

/** Inline: for one-shot commands and tests, where nothing else waits on the thread. */
export const loadInline: LoadFn = (files, opts) => Promise.resolve(loadStacks(files, opts));

/** A loader that validates in a worker thread; inline when the worker's file is not there (sources, not the bundle). */
export function offThreadLoader(workerUrl = new URL('./validate-worker.js', import.meta.url), limits: OffThreadLimits = DEFAULT_LIMITS): LoadFn {
  if (!existsSync(fileURLToPath(workerUrl))) return loadInline;
  let worker: Worker | undefined;
  let idle: NodeJS.Timeout | undefined;
  let next = 0;
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  };
  const settled = (): void => {
    if (pending.size > 0) return;
    clearTimeout(idle);
    idle = setTimeout(() => {
      const w = worker;
      worker = undefined;
      void w?.terminate();
    }, limits.idleMs);
    idle.unref();
  };
  const start = (): Worker => {
    const w = new Worker(workerUrl, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    w.on('message', (reply: LoadReply) => {
      const p = pending.get(reply.id);
      pending.delete(reply.id);
      settled();
      if (p === undefined) return;
      if ('crash' in reply) p.reject(new Error(`validation crashed: ${reply.crash}`));
      else p.resolve({ stacks: reply.stacks, inputs: reply.inputs, warnings: reply.warnings, errors: reply.errors.map((e) => new ValidationError({ file: e.file, line: e.line, col: e.col }, e.path, e.message, e.hint)) });
    });
    w.on('error', (err) => failAll(err));
    // A worker stopped for idleness has nothing pending and is no longer `worker`.
    w.on('exit', (code) => {
      if (worker === w) failAll(new Error(`the validation worker exited (code ${code})`));
    });
    // Never keeps the daemon alive on its own; after the listeners, since adding a 'message' listener refs it again.
    w.unref();
    return w;
  };
  return (files, opts) => {
    if (bytesToParse(files, opts) <= limits.inlineBytes) return loadInline(files, opts);
    return new Promise<LoadResult>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      clearTimeout(idle);
      const { resolveHostPath: _resolved, ...plain } = opts;
      worker ??= start();
      worker.postMessage({ id, files, opts: plain } satisfies LoadRequest);
    });
  };
}

export interface OffThreadLimits {
  /** At most this many bytes of files no reused stack read are parsed on the calling thread. */
  inlineBytes: number;
  /** The worker stops after this long without work. */
  idleMs: number;
}

/**
 * 64 KiB is some 40 typical stack files: a few tens of milliseconds on the
 * main thread at worst. A minute of idleness outlasts a burst of pushes.
 */
const DEFAULT_LIMITS: OffThreadLimits = { inlineBytes: 64 * 1024, idleMs: 60_000 };

/** The bytes of YAML and .env files a load would parse: all but those reused stacks read. */
function bytesToParse(files: ReadonlyMap<string, string>, opts: LoadOptions): number {
  const covered = new Set([...(opts.reuse?.values() ?? [])].flatMap((r) => r.reads));
  let bytes = 0;
  for (const [path, text] of files) if (PARSED.test(path) && !covered.has(path)) bytes += text.length;
  return bytes;
}

const PARSED = /\.ya?ml$|(^|\/)\.env$/;

/**
 * The worker's young generation, kept small: V8's default grows to tens of
 * MB during one validation and stays resident while the daemon idles (a
 * process validating 100 small stacks in a worker: ~88 MB resident by
 * default, ~80 MB with 8); a smaller one costs only a few more scavenges.
 */
const WORKER_YOUNG_GENERATION_MB = 8;
