#!/usr/bin/env bash
# The one preparation step `npm test`, `npm run demo`, CI and benchmarks run
# first: dependencies, the built CLI, a Docker engine, the local images. Each
# step checks before it acts, so a second run is quiet and takes well under a
# second.
set -euo pipefail
exec </dev/null
cd "$(dirname "$0")/.."

# npm writes node_modules/.package-lock.json on every install: older than the
# lock file means the lock changed since the last install.
if [ -L node_modules ]; then
  # npm ci empties the link's target, which belongs to another checkout:
  # a linked node_modules is the caller's to keep up to date.
  :
elif [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# Rebuild the bundle when missing or when a source file is newer, so the demo
# never runs yesterday's CLI.
if [ ! -f dist/main.js ] || [ -n "$(find src package.json scripts/build.mjs -newer dist/main.js -print -quit 2>/dev/null)" ]; then
  if ! npm run --silent build >&2; then
    echo "setup: npm run build failed (see above); fix the build, then run again" >&2
    exit 1
  fi
fi

bash scripts/ensure-docker.sh
bash scripts/ensure-pebble.sh
bash scripts/build-images.sh
bash scripts/ensure-chromium.sh
