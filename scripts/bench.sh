#!/usr/bin/env bash
# `npm run bench`: issue 2's converge benchmark. Prepares the machine (deps,
# built CLI, engine, images), bundles the TypeScript bench files with esbuild
# (tsx is not a dependency), then runs them. Prints a markdown table on
# stdout and writes bench/results/converge.md. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# The peer: Debian's docker-compose v1 (the swarm peer is the engine itself).
if [ ! -x /usr/bin/docker-compose ]; then
  if [ "$(id -u)" != 0 ]; then echo "bench: install docker-compose (apt-get install docker-compose, as root) first" >&2; exit 1; fi
  echo "bench: installing docker-compose" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null </dev/null
fi

bash bench/bundle.sh converge daemon-pass

exec node .tmp/bench/converge.mjs "$@"
