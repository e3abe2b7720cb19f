#!/usr/bin/env bash
# Validation benchmark (issue 10): a 50,000-key mapping through Capstan's
# loader vs the YAML parse alone, the quadratic check used before, and
# docker-compose's `config`. Installs docker-compose when missing (as
# bench.sh does), bundles bench/validate.ts and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
if [ ! -x /usr/bin/docker-compose ] && [ "$(id -u)" = 0 ]; then
  echo "bench:validate: installing docker-compose" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null </dev/null || echo "bench:validate: docker-compose not installed; measured without it" >&2
fi
out=node_modules/.cache/capstan-bench/validate.mjs
npx esbuild bench/validate.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
