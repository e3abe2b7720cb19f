#!/usr/bin/env bash
# Makes sure a Docker engine answers before tests, the demo, CI or benchmarks
# run. A running engine is always reused (never restarted: other work may be
# using it); only when none answers, and we are root, do we install/start one.
# Quiet on success; safe to run any number of times; never reads stdin.
set -euo pipefail
exec </dev/null

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
WAIT_SECONDS=${ENSURE_DOCKER_WAIT:-60}

engine_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

if engine_answers; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    where="DOCKER_HOST=${DOCKER_HOST}"
  else
    where="/var/run/docker.sock"
  fi
  cat >&2 <<MSG
ensure-docker: no Docker engine answers at ${where}, and this script is not
running as root, so it cannot start one. Do one of:
  - start the engine:            sudo systemctl start docker   (or: sudo dockerd &)
  - let this user use its socket: sudo usermod -aG docker "$(id -un)" && newgrp docker
  - point at another engine:     export DOCKER_HOST=unix:///path/to/docker.sock  (or tcp://host:2375)
  - or run this script as root:  sudo bash scripts/ensure-docker.sh
Then check with: docker info
MSG
  exit 1
fi

if [ -n "${DOCKER_HOST:-}" ] && [[ "${DOCKER_HOST}" != unix:///var/run/docker.sock ]]; then
  # Starting a local dockerd would not make a remote DOCKER_HOST answer.
  echo "ensure-docker: DOCKER_HOST=${DOCKER_HOST} does not answer; not starting a local engine for a remote endpoint" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io and busybox-static" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
fi

# A dockerd that is running but slow to answer must not get a second sibling.
if pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure-docker: dockerd is running but does not answer yet; waiting" >&2
else
  pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
      # A pid file left by a killed engine makes dockerd refuse to start.
      rm -f "$pidfile"
    fi
  fi
  # containerd may be needed by the distro's dockerd; it starts its own when
  # none runs, so nothing else to launch here.
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid + nohup: the engine must outlive this script and its session (CI steps).
  setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  disown || true
fi

deadline=$(( $(date +%s) + WAIT_SECONDS ))
until engine_answers; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "ensure-docker: dockerd did not answer within ${WAIT_SECONDS}s; last lines of ${DOCKERD_LOG}:" >&2
    tail -n 40 "$DOCKERD_LOG" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.5
done
