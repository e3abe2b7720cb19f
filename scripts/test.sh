#!/usr/bin/env bash
# `npm test`: sets the machine up (deps, Docker engine, local images), then
# typecheck, lint and the whole vitest suite (units, then real Git + Docker),
# then the fault suite's long runs (`npm run test:faults`). Arguments (a test
# file, -t NAME) go to the first vitest run, and skip the fault suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== typecheck"; npx tsc --noEmit -p .
echo "== lint"; npx eslint .
echo "== tests"; npx vitest run --project unit --project integration "$@"
if [ $# -eq 0 ]; then echo "== fault suite"; npx vitest run --project faults; fi
