#!/usr/bin/env bash
# Heal-time benchmark (issue 4): Capstan vs --restart=always vs Swarm task
# replacement. Prepares the machine, bundles bench/heal.ts and runs it
# (KILLS=20 by default).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=node_modules/.cache/capstan-bench/heal.mjs
npx esbuild bench/heal.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
