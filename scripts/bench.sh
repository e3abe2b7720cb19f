#!/usr/bin/env bash
# `npm run bench`: issue 2's converge benchmark. Prepares the machine (deps,
# built CLI, engine, images), bundles the TypeScript bench files with esbuild
# (tsx is not a dependency), then runs them. Prints a markdown table on
# stdout and writes bench/results/converge.md. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

mkdir -p .tmp/bench
for entry in converge daemon-pass; do
  npx esbuild "bench/$entry.ts" --bundle --platform=node --format=esm --target=node20 \
    --outfile=".tmp/bench/$entry.mjs" --external:dockerode --external:pino-pretty \
    --external:cpu-features --external:ssh2 --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
done

exec node .tmp/bench/converge.mjs "$@"
