// Bundles the CLI into dist/ so `capstan` starts fast: a few files to parse
// instead of hundreds of modules, and commands loaded only when run.
//
// dockerode is bundled too, but the modules it loads eagerly for features
// Capstan rarely or never uses (ssh2 for ssh:// DOCKER_HOST, gRPC and
// protobuf for BuildKit sessions) cost ~200 ms at every start. They are
// replaced by proxies that require the real package on first use.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const LAZY = ['ssh2', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs'];
const lazyFilter = new RegExp(`^(${LAZY.map((m) => m.replace(/[/@.-]/g, '\\$&')).join('|')})$`);

/** `require(x).Member` at load time must not load x either: members are proxies too, resolved when called, constructed or read. */
const lazyModule = (name) => `
let real;
const load = () => (real ??= require(${JSON.stringify(name)}));
const member = (key) => new Proxy(function () {}, {
  apply: (_t, self, args) => Reflect.apply(load()[key], self, args),
  construct: (_t, args) => Reflect.construct(load()[key], args),
  get: (_t, prop) => Reflect.get(load()[key], prop),
});
module.exports = new Proxy({}, { get: (_t, key) => member(key) });
`;

const lazyPlugin = {
  name: 'lazy-modules',
  setup(b) {
    b.onResolve({ filter: lazyFilter }, (args) =>
      // The proxy's own require must reach the real package at run time.
      args.namespace === 'lazy' ? { path: args.path, external: true } : { path: args.path, namespace: 'lazy' },
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({ contents: lazyModule(args.path), loader: 'js' }));
  },
};

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
  external: ['pino-pretty', 'cpu-features'],
  plugins: [lazyPlugin],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

// The dashboard's script, for browsers: served by the daemon from
// dist/dashboard (src/server/dashboard/assets.ts finds it), no CDN.
await build({
  entryPoints: { app: 'src/server/dashboard/client/main.ts' },
  outdir: 'dist/dashboard',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome110',
  sourcemap: 'linked',
  logLevel: 'warning',
});
