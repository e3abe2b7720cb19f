#!/usr/bin/env bash
# Bundles bench entry points (bench/<name>.ts) into .tmp/bench/<name>.mjs with
# esbuild (tsx is not a dependency): `bash bench/bundle.sh converge daemon-pass`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tmp/bench
for entry in "$@"; do
  npx esbuild "bench/$entry.ts" --bundle --platform=node --format=esm --target=node20 \
    --outfile=".tmp/bench/$entry.mjs" --external:dockerode --external:pino-pretty \
    --external:cpu-features --external:ssh2 --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
done
