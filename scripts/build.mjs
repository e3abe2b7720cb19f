// Bundles the CLI into dist/ so `capstan` starts fast: one file to parse
// instead of hundreds of modules. dockerode (which drags in ssh2) stays
// external and is imported lazily, only by commands that talk to Docker.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: old ones would pile up.
rmSync('dist', { recursive: true, force: true });

await build({
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external: ['dockerode', 'pino-pretty', 'cpu-features', 'ssh2'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
