#!/usr/bin/env bash
# `npm run demo`: a whole GitOps loop on this machine. Sets itself up (deps,
# Docker engine, local images), serves a Git repository seeded from
# manifests-example/ over smart HTTP, and runs the operator against it.
# Ctrl-C stops the operator and the Git server; containers keep running
# (remove them with: docker rm -f $(docker ps -aq --filter label=io.capstan.instance=demo)).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

DEMO_DIR=${CAPSTAN_DEMO_DIR:-$PWD/.tmp/demo}
GIT_PORT=${CAPSTAN_DEMO_GIT_PORT:-9418}
mkdir -p "$DEMO_DIR"

node scripts/git-server.mjs --root "$DEMO_DIR/git" --port "$GIT_PORT" --seed manifests-example --name demo >"$DEMO_DIR/git-server.log" 2>&1 &
GIT_PID=$!
trap 'kill $GIT_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$GIT_PORT/demo.git/info/refs?service=git-upload-pack" >/dev/null 2>&1 && break
  sleep 0.1
done
REPO="http://127.0.0.1:$GIT_PORT/demo.git"

cat <<INFO

  Capstan demo
  ------------
  Git repository   $REPO   (seeded from manifests-example/)
  Operator         capstan run --repo $REPO --instance demo --interval 5s
  Containers       docker ps --filter label=io.capstan.instance=demo
  Web frontend     http://127.0.0.1:8081/      shop: http://127.0.0.1:8082/

  Push a change and watch it roll out (in another terminal):
    git clone $REPO /tmp/demo-work && cd /tmp/demo-work
    sed -i 's/RELEASE: "1"/RELEASE: "2"/' stacks/web.yaml
    git commit -am "web: release 2" && git push
  Within one interval only web-frontend-1 is recreated; curl http://127.0.0.1:8081/ shows release 2.
  See what a commit would do first:  npx capstan plan --repo $REPO --instance demo

INFO

node bin/capstan.mjs run --repo "$REPO" --instance demo --interval 5s \
  --data-dir "$DEMO_DIR/data" --log-format pretty "$@"
