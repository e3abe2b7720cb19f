#!/usr/bin/env bash
# Registry benchmark (issue 9): cold converge of 20 services whose images are
# all pulled from a local registry, capstan apply vs docker-compose up -d, and
# the daemon's digest check for 20 tags. Prepares the machine (deps, CLI,
# engine, images, docker-registry, docker-compose), bundles bench/pull.ts and
# runs it. Results in bench/results/pull.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/ensure-registry.sh
if [ ! -x /usr/bin/docker-compose ]; then
  if [ "$(id -u)" != 0 ]; then echo "bench: install docker-compose (apt-get install docker-compose, as root) first" >&2; exit 1; fi
  echo "bench: installing docker-compose" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq docker-compose >/dev/null </dev/null
fi
# Two levels below the repository root, as bench/lib expects of its bundles.
out=.tmp/bench/pull.mjs
npx esbuild bench/pull.ts --bundle --platform=node --format=esm --target=node20 --packages=external --outfile="$out" --log-level=warning
exec node "$out" "$@"
