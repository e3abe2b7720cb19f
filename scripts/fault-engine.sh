#!/usr/bin/env bash
# A Docker engine of a fault test's own, so the test may stop and restart it
# (the machine's shared engine is never touched): a dockerd in a network
# namespace of its own, with its own data root, exec root, pid file, socket
# and cgroup parent, all named after NAME. The local test image is loaded
# into it with `docker save | docker load` (no registry here).
#
#   fault-engine.sh up NAME        start it (or reuse it); prints DOCKER_HOST=unix://...
#   fault-engine.sh stop NAME      stop the engine (SIGTERM, as `systemctl stop docker`); its state stays
#   fault-engine.sh start NAME     start it again on the same state
#   fault-engine.sh freeze NAME    SIGSTOP the engine: a hung dockerd, connections open, nothing answered
#   fault-engine.sh thaw NAME      SIGCONT it: it answers again, what it was asked meanwhile included
#   fault-engine.sh down NAME      stop it and remove everything it made
#
# Facts of this machine class it is built around: `ip netns exec` remounts
# /sys and breaks dockerd's cgroups, so the engine runs under `nsenter --net`
# (network namespace only: paths stay the host's). The namespace has no route
# out: nothing the engine runs reaches anything but itself, and the host's
# iptables are untouched (the engine's rules live in its namespace).
set -euo pipefail
exec </dev/null

NAME=${2:-}
[[ "$NAME" =~ ^capstan-fault-[a-z0-9-]{2,24}$ ]] || { echo "fault-engine: NAME must match capstan-fault-[a-z0-9-]{2,24}" >&2; exit 2; }
ROOT=/var/lib/$NAME
RUN=/var/run/$NAME
SOCK=/var/run/$NAME.sock
PIDFILE=/var/run/$NAME.pid
LOG=/var/lib/$NAME.log
IMAGES=${CAPSTAN_FAULT_ENGINE_IMAGES:-capstan/busybox:latest}
WAIT_SECONDS=${CAPSTAN_FAULT_ENGINE_WAIT:-60}

log() { echo "fault-engine: $*" >&2; }
die() { log "$*"; exit 1; }
edocker() { docker -H "unix://$SOCK" "$@"; }
answers() { edocker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
engine_pid() { cat "$PIDFILE" 2>/dev/null || true; }

need() {
  [ "$(id -u)" -eq 0 ] || die "needs root (a network namespace and a dockerd)"
  local t missing=()
  for t in dockerd docker ip nsenter; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing missing tools: ${missing[*]}"
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iproute2 util-linux >/dev/null 2>&1; then return 0; fi
    sleep 3 # apt may be locked by another job
  done
  die "could not install ${missing[*]}"
}

start() {
  answers && return 0
  ip netns list | grep -qw "$NAME" || ip netns add "$NAME"
  ip -n "$NAME" link set lo up
  mkdir -p "$ROOT" "$RUN"
  # Its own (empty) config: the host's /etc/docker/daemon.json is not this engine's.
  [ -f "$ROOT.json" ] || echo '{}' >"$ROOT.json"
  local pid; pid=$(engine_pid)
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PIDFILE" "$SOCK"
    # setsid: the engine outlives this script; its containers live under a cgroup parent of its own.
    setsid nohup nsenter --net="/var/run/netns/$NAME" dockerd \
      --config-file "$ROOT.json" --data-root "$ROOT" --exec-root "$RUN" \
      -H "unix://$SOCK" --pidfile "$PIDFILE" --cgroup-parent "/$NAME" \
      >>"$LOG" 2>&1 </dev/null &
  fi
  local deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until answers; do
    [ "$(date +%s)" -lt "$deadline" ] || { tail -n 30 "$LOG" >&2; die "the engine did not answer within ${WAIT_SECONDS}s (log: $LOG)"; }
    sleep 0.2
  done
}

stop() {
  local pid; pid=$(engine_pid)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -CONT "$pid" 2>/dev/null || true # a frozen engine would never see the TERM
  kill -TERM "$pid"
  local deadline=$(( $(date +%s) + 40 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
}

load_images() {
  local img want have missing=()
  for img in $IMAGES; do
    want=$(docker image inspect --format '{{.Id}}' "$img")
    have=$(edocker image inspect --format '{{.Id}}' "$img" 2>/dev/null || true)
    [ "$want" = "$have" ] || missing+=("$img")
  done
  [ ${#missing[@]} -eq 0 ] || docker save "${missing[@]}" | edocker load -q >/dev/null
}

down() {
  stop
  # What a hard-stopped engine leaves: processes in its namespace or its cgroup subtree, ours by construction.
  if ip netns list | grep -qw "$NAME"; then
    local left; left=$(ip netns pids "$NAME" 2>/dev/null || true)
    [ -z "$left" ] || kill -9 $left 2>/dev/null || true
  fi
  local d m
  for d in /sys/fs/cgroup/*/"$NAME" /sys/fs/cgroup/"$NAME"; do
    [ -d "$d" ] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -9 2>/dev/null || true
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  # /var/run is a symlink to /run here: mountinfo names the real paths.
  local run_real; run_real=$(readlink -f "$(dirname "$RUN")")/$NAME
  for m in $(awk -v r="$run_real" -v l="$ROOT" '$5 == r || index($5, r "/") == 1 || $5 == l || index($5, l "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$ROOT" "$RUN" "$ROOT.json" "$LOG" "$SOCK" "$PIDFILE"
  ip netns del "$NAME" 2>/dev/null || true
}

case "${1:-}" in
  up) need; start; load_images; echo "DOCKER_HOST=unix://$SOCK" ;;
  stop) need; stop ;;
  start) need; start ;;
  freeze) need; pid=$(engine_pid); [ -n "$pid" ] || die "not running"; kill -STOP "$pid" ;;
  thaw) need; pid=$(engine_pid); [ -n "$pid" ] || die "not running"; kill -CONT "$pid" ;;
  down) need; down ;;
  *) echo "usage: $0 up|stop|start|freeze|thaw|down NAME" >&2; exit 2 ;;
esac
