#!/usr/bin/env bash
# Scale benchmark (issue 14): 100 stacks / 500 containers under one
# `capstan run`: cold converge, no-op passes, heals against --restart=always,
# a burst of 100 deaths, RSS, idle CPU, and 200 manifests validated against
# docker-compose `config`. Prepares the machine (installs docker-compose
# when missing, as bench.sh does), bundles bench/scale.ts and runs it;
# writes bench/results/scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/docker-compose ] && [ "$(id -u)" = 0 ]; then
  echo "bench:scale: installing docker-compose" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null </dev/null || echo "bench:scale: docker-compose not installed; measured without it" >&2
fi
# Two levels below the repository root, as bench/lib expects of its bundles.
out=.tmp/bench/scale.mjs
npx esbuild bench/scale.ts --bundle --platform=node --format=esm --target=node20 --packages=external --outfile="$out" --log-level=warning
exec node "$out" "$@"
