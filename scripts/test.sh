#!/usr/bin/env bash
# `npm test`: sets the machine up (deps, Docker engine, local images), then
# typecheck, lint and the whole vitest suite (units, then real Git + Docker).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== typecheck"; npx tsc --noEmit -p .
echo "== lint"; npx eslint .
echo "== tests"; npx vitest run "$@"
