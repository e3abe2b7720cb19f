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
bash bench/bundle.sh swarm daemon-pass
node .tmp/bench/swarm.mjs "$@"
