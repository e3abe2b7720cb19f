#!/usr/bin/env bash
# `npm run bench:swarm` (issue 13): Capstan's swarm backend against `docker
# stack deploy` on a 3-node swarm of this machine (scripts/swarm-harness.sh),
# started here and torn down afterwards. The host's own engine is never put
# into swarm mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CAPSTAN_SWARM_NAME=${CAPSTAN_SWARM_NAME:-capstan-swarm-bench}
trap 'bash scripts/swarm-harness.sh down' EXIT
eval "$(bash scripts/swarm-harness.sh up 3 | grep '^DOCKER_HOST=' | sed 's/^/export /')"
mkdir -p .tmp/bench
for entry in swarm daemon-pass; do
  npx esbuild "bench/$entry.ts" --bundle --platform=node --format=esm --target=node20 \
    --outfile=".tmp/bench/$entry.mjs" --external:dockerode --external:pino-pretty \
    --external:cpu-features --external:ssh2 --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
done
node .tmp/bench/swarm.mjs "$@"
