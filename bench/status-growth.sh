#!/usr/bin/env bash
# Status branch growth (issue 14 item 3): 20 stacks × 50 deploys a day through
# the real StatusReporter and Git writer; needs no engine. Prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci
out=node_modules/.cache/capstan-bench/status-growth.mjs
npx esbuild bench/status-growth.ts --bundle --platform=node --format=esm --packages=external --outfile="$out" --log-level=warning
node "$out"
