// The worker side of off-thread validation (see off-thread.ts): loads the
// stacks of one commit and posts the result back. Errors travel as plain
// data (a class does not survive the copy between threads).

import { parentPort } from 'node:worker_threads';
import { resolveHostPath } from '../config/policy-file.js';
import { loadStacks, type LoadOptions } from '../manifests/load.js';
import type { LoadRequest, LoadReply } from './off-thread.js';

parentPort?.on('message', (req: LoadRequest) => {
  let reply: LoadReply;
  try {
    const opts: LoadOptions = { ...req.opts, resolveHostPath };
    const r = loadStacks(req.files, opts);
    reply = { id: req.id, stacks: r.stacks, inputs: r.inputs, warnings: r.warnings, errors: r.errors.map((e) => ({ file: e.file, line: e.line, col: e.col, path: e.path, message: e.message, hint: e.hint })) };
  } catch (err) {
    reply = { id: req.id, crash: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort?.postMessage(reply);
});
