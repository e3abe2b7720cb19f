#!/usr/bin/env bash
# Progressive delivery benchmark (issue 12): canary abort time and failed
# requests at 10 % under load, autoscale reaction to a load step. Prepares
# the machine, bundles bench/progressive.ts and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=node_modules/.cache/capstan-bench/progressive.mjs
npx esbuild bench/progressive.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
