#!/usr/bin/env bash
# Rollout benchmark (issue 5): failed requests while Capstan, docker-compose
# and Swarm each update a service under load. Prepares the machine, installs
# docker-compose when missing (as root), bundles bench/rollout.ts and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/docker-compose ]; then
  if [ "$(id -u)" != 0 ]; then echo "bench/rollout.sh: install docker-compose (as root) first" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null </dev/null
fi
out=node_modules/.cache/capstan-bench/rollout.mjs
npx esbuild bench/rollout.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
