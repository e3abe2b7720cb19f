// The import-boundary rule (DESIGN §9) on snippets: imports down the layers
// pass, upward ones and the refused pairs (core → I/O, router → control
// plane) are errors, and a new folder on no layer is named.

import { fileURLToPath } from 'node:url';
import { Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import capstan from '../../eslint-rules/import-boundaries.mjs';

const src = fileURLToPath(new URL('../../src/', import.meta.url));

function lint(file: string, code: string): string[] {
  const linter = new Linter({ configType: 'flat' });
  const messages = linter.verify(code, [{ files: ['**/*.js'], plugins: { capstan }, rules: { 'capstan/import-boundaries': 'error' }, languageOptions: { sourceType: 'module' } }], { filename: `${src}${file}` });
  return messages.map((m) => m.message);
}

describe('capstan/import-boundaries', () => {
  it('lets imports point down the layers, and leaves are free for all', () => {
    expect(lint('reconciler/x.js', "import { a } from '../apply/executor.js';\nimport { b } from '../errors.js';\nimport { c } from './lanes.js';")).toEqual([]);
    expect(lint('cli/x.js', "import { a } from '../reconciler/daemon.js';")).toEqual([]);
  });

  it('refuses an import up the layers', () => {
    expect(lint('status/x.js', "import { a } from '../reconciler/daemon.js';")).toEqual(['status/ may not import reconciler/ (a higher layer: imports point down, DESIGN §9)']);
  });

  it('keeps the core pure and the router free of the control plane', () => {
    expect(lint('plan/x.js', "import { a } from '../backends/backend.js';")).toEqual(['plan/ may not import backends/ (plan/ is the pure core: no I/O)']);
    expect(lint('router/x.js', "import { a } from '../source/git-source.js';")).toEqual(['router/ may not import source/ (the router is the data plane and runs without the control plane)']);
  });

  it('names a folder no layer lists', () => {
    expect(lint('reconciler/x.js', "import { a } from '../gadgets/thing.js';")).toEqual(['src/gadgets/ is on no layer of eslint-rules/import-boundaries.mjs: add it there']);
  });
});
