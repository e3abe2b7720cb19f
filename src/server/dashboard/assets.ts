// Where the built dashboard script lives: dist/dashboard, beside the bundle
// this module ends up in, or (running from source, as tests do) under the
// checkout's dist/. Undefined when it was never built.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function dashboardAssetsDir(): string | undefined {
  for (const relative of ['./dashboard/', '../../../dist/dashboard/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}app.js`)) return dir;
  }
  return undefined;
}
