// DESIGN §9's import directions as a lint rule: every folder of src/ sits on
// a layer, and a module may import only from its own layer or lower ones
// (imports point down: main/cli → reconciler → {source, core, observed,
// apply, status}), plus a few pairs refused outright — the pure core never
// reaches I/O, and the router (the data plane) can run without the control
// plane. The layers are listed once, here.

import { dirname, relative, resolve, sep } from 'node:path';

/** Lowest first. Top-level files (errors.ts, backoff.ts, version.ts) are leaves: anyone may import them. */
const LAYERS = [
  ['leaf', 'logging', 'schedule'],
  ['manifests'],
  ['desired', 'secrets', 'observed', 'health'],
  ['plan', 'strategies'],
  ['source', 'backends', 'router', 'images', 'leader'],
  ['apply', 'status', 'config', 'events'],
  ['server', 'notify'],
  ['reconciler'],
  ['cli', 'main'],
];

/** Folders that may not import these, whatever the layers say. */
const FORBIDDEN = {
  // The functional core: no I/O, no clock of its own.
  manifests: ['source', 'backends', 'observed', 'apply', 'status', 'server', 'router', 'secrets'],
  desired: ['source', 'backends', 'apply', 'status', 'server', 'router'],
  plan: ['source', 'backends', 'apply', 'status', 'server', 'router', 'secrets'],
  strategies: ['source', 'backends', 'apply', 'status', 'server', 'router', 'secrets', 'observed'],
  // The data plane runs alone.
  router: ['source', 'reconciler', 'apply', 'status', 'config'],
};

const rank = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i])));

/** The folder of a file under src/ (`leaf` for top-level files, `main` for main.ts). */
function folderOf(file, srcDir) {
  const rel = relative(srcDir, file);
  if (rel.startsWith('..')) return undefined;
  const parts = rel.split(sep);
  if (parts.length === 1) return parts[0] === 'main.ts' ? 'main' : 'leaf';
  return parts[0];
}

export default {
  rules: {
    'import-boundaries': {
      meta: {
        type: 'problem',
        docs: { description: 'imports point down the layers of DESIGN §9' },
        schema: [],
        messages: {
          upward: '{{from}}/ may not import {{to}}/ (a higher layer: imports point down, DESIGN §9)',
          forbidden: '{{from}}/ may not import {{to}}/ ({{why}})',
          unknown: 'src/{{folder}}/ is on no layer of eslint-rules/import-boundaries.mjs: add it there',
        },
      },
      create(context) {
        const file = context.filename;
        const srcDir = resolve(dirname(new URL(import.meta.url).pathname), '..', 'src');
        const from = folderOf(file, srcDir);
        if (from === undefined) return {};
        const check = (node, source) => {
          if (typeof source !== 'string' || !source.startsWith('.')) return;
          const to = folderOf(resolve(dirname(file), source), srcDir);
          if (to === undefined || to === from) return;
          for (const folder of [from, to]) {
            if (!rank.has(folder)) context.report({ node, messageId: 'unknown', data: { folder } });
          }
          if (!rank.has(from) || !rank.has(to)) return;
          if ((FORBIDDEN[from] ?? []).includes(to)) {
            const why = from === 'router' ? 'the router is the data plane and runs without the control plane' : `${from}/ is the pure core: no I/O`;
            context.report({ node, messageId: 'forbidden', data: { from, to, why } });
          } else if (rank.get(to) > rank.get(from)) {
            context.report({ node, messageId: 'upward', data: { from, to } });
          }
        };
        return {
          ImportDeclaration: (node) => check(node, node.source.value),
          ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
          ExportAllDeclaration: (node) => check(node, node.source.value),
          ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
        };
      },
    },
  },
};
