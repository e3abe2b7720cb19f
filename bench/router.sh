#!/usr/bin/env bash
# Router benchmark: installs the peers when missing (as root), builds the CLI,
# bundles bench/router.ts and runs it. BENCH_DURATION=10s by default.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
command -v haproxy >/dev/null || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "bench/router.sh: install ${need[*]} (as root) first" >&2; exit 1; fi
  apt-get install -y "${need[@]}" >/dev/null
fi
npm run build --silent
# Bundled inside node_modules/ so the bundle's bare imports (zod) resolve.
out=node_modules/.cache/capstan-bench/router.mjs
npx esbuild bench/router.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
