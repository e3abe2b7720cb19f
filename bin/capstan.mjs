#!/usr/bin/env node
// The package's bin: runs the bundle built by `npm run build` (done by `npm ci` through `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(bundle))) {
  process.stderr.write('capstan: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
await import(bundle.href);
