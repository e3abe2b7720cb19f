#!/usr/bin/env bash
# Lanes benchmark (issue 11): heal and push → running in other stacks during a
# ~60 s rolling update, no-op pass time and idle CPU with 25 stacks. Prepares
# the machine, bundles bench/lanes.ts and runs it; writes bench/results/lanes.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two levels below the repository root, as bench/lib expects of its bundles.
out=.tmp/bench/lanes.mjs
npx esbuild bench/lanes.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
