#!/usr/bin/env bash
# A real Docker Swarm of N engines on this one machine, for the swarm
# backend's tests and benchmark. Each node is its own dockerd in its own
# network namespace, wired to a bridge of ours; node 1 is the manager, the
# others join it as workers with the join token.
#
#   swarm-harness.sh up [N]        start (or reuse) the swarm; prints KEY=VALUE lines
#   swarm-harness.sh down          stop every node and remove everything it made
#   swarm-harness.sh stop-node I   stop node I's engine (node loss)
#   swarm-harness.sh start-node I  start it again (recovery)
#   swarm-harness.sh env           the KEY=VALUE lines of a running swarm
#
# Why it is built like this (facts of this machine class):
#  - `ip netns exec` remounts /sys, which breaks dockerd's cgroup mounts, so
#    the engine is started with `nsenter --net=` (network namespace only: the
#    mount namespace stays the host's, so sockets and data dirs are plain paths).
#  - The namespaces get no default route: nothing a node runs reaches out.
#  - The kernel has no IPVS, so Swarm's ingress mesh and VIPs do not balance;
#    tests publish ports in `mode: host` and use `endpoint_mode: dnsrr`.
#  - No registry: the local test image is `docker save`d into every node.
#
# It only touches objects named after CAPSTAN_SWARM_NAME (default
# capstan-swarm): namespaces, /var/lib/<name>-I, /var/run/<name>-I(.sock|.pid),
# one bridge and its veths, one iptables FORWARD rule. The host's own engine
# is never restarted, reconfigured or put into swarm mode. Idempotent: `up`
# reuses a healthy swarm and rebuilds a broken one; `down` is safe to repeat.
set -euo pipefail
exec </dev/null

NAME=${CAPSTAN_SWARM_NAME:-capstan-swarm}
[[ "$NAME" =~ ^[a-z][a-z0-9-]{2,30}$ ]] || { echo "swarm-harness: CAPSTAN_SWARM_NAME must match [a-z][a-z0-9-]{2,30}" >&2; exit 1; }
# Interface names have 15 characters at most: a short tag derived from the name.
TAG=cs$(printf '%s' "$NAME" | cksum | cut -d' ' -f1 | tail -c 6)
BRIDGE=${TAG}br
# 10.213.X.0/24, X from the name, so two harnesses (tests and a bench) can run side by side.
# The host engine's pools here are 10.192.0.0/12; the nodes' own Swarm pool is 10.214.0.0/16.
OCTET=$(( $(printf '%s' "$NAME" | cksum | cut -d' ' -f1) % 250 + 1 ))
SUBNET_PREFIX=${CAPSTAN_SWARM_SUBNET_PREFIX:-10.213.$OCTET}
HOST_IP=$SUBNET_PREFIX.1
SWARM_POOL=${CAPSTAN_SWARM_POOL:-10.214.0.0/16}
IMAGES=${CAPSTAN_SWARM_IMAGES:-capstan/busybox:latest capstan/busybox:1.0 capstan/busybox:1.1}
WAIT_SECONDS=${CAPSTAN_SWARM_WAIT:-60}

node_name() { echo "$NAME-$1"; }
node_ip() { echo "$SUBNET_PREFIX.$((10 + $1))"; }
node_sock() { echo "/var/run/$(node_name "$1").sock"; }
node_pid() { echo "/var/run/$(node_name "$1").pid"; }
node_log() { echo "/var/lib/$(node_name "$1").log"; }
ndocker() { local i=$1; shift; docker -H "unix://$(node_sock "$i")" "$@"; }

log() { echo "swarm-harness: $*" >&2; }
die() { log "$*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, a bridge, dockerd)"; }

need_tools() {
  local missing=()
  for t in dockerd docker ip iptables nsenter; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  # docker.io brings dockerd and the CLI; iproute2, iptables and util-linux the rest. Installed the
  # same way on a fresh CI machine as on this one.
  log "installing missing tools: ${missing[*]}"
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iproute2 iptables util-linux >/dev/null 2>&1; then return 0; fi
    sleep 3 # apt may be locked by another job
  done
  die "could not install ${missing[*]}"
}

# The highest node that left anything behind (a socket, a namespace, a state dir): a teardown that
# stopped half-way leaves gaps, and `down` must still find every node after one.
node_count() {
  local n=0 i
  for i in $(seq 1 9); do
    if [ -e "$(node_sock "$i")" ] || [ -e "/var/run/$(node_name "$i")" ] || ip netns list 2>/dev/null | grep -qw "$(node_name "$i")"; then n=$i; fi
  done
  echo "$n"
}

engine_answers() { ndocker "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

wait_for() { # description, command...
  local what=$1; shift
  local deadline=$(( $(date +%s) + WAIT_SECONDS ))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
  log "$what"
}

network_up() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || {
    ip link add "$BRIDGE" type bridge
    ip addr add "$HOST_IP/24" dev "$BRIDGE"
  }
  ip link set "$BRIDGE" up
  # The host engine's FORWARD policy drops bridged traffic (br_netfilter): let node-to-node through, nothing else.
  iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
}

netns_up() {
  local i=$1 ns veth
  ns=$(node_name "$i"); veth=${TAG}n$i
  ip netns list | grep -qw "$ns" || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
  fi
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

# The engine of node i, in its namespace, with state of its own and the host's daemon.json ignored.
engine_start() {
  local i=$1 n
  n=$(node_name "$i")
  engine_answers "$i" && return 0
  mkdir -p "/var/lib/$n" "/var/run/$n"
  [ -f "/var/lib/$n/daemon.json" ] || echo '{}' >"/var/lib/$n/daemon.json"
  local pid; pid=$(cat "$(node_pid "$i")" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    :  # starting up: wait for it below
  else
    rm -f "$(node_pid "$i")" "$(node_sock "$i")"
    # setsid: the engine outlives this script; its containers go into their own cgroup subtree, which
    # `down` empties without looking at anyone else's processes.
    # A UTS namespace of its own: the node's hostname (what `docker node ls` shows) is the node's name.
    setsid nohup nsenter --net="/var/run/netns/$n" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$n" dockerd \
      --config-file "/var/lib/$n/daemon.json" \
      --data-root "/var/lib/$n" --exec-root "/var/run/$n" \
      -H "unix://$(node_sock "$i")" --pidfile "$(node_pid "$i")" \
      --cgroup-parent "/$n" --storage-driver overlay2 \
      >"$(node_log "$i")" 2>&1 </dev/null &
  fi
  wait_for "node $i engine answers" engine_answers "$i" || { tail -n 30 "$(node_log "$i")" >&2; die "node $i's dockerd did not answer within ${WAIT_SECONDS}s (log: $(node_log "$i"))"; }
}

swarm_state() { ndocker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }

load_images() {
  local i=$1 missing=() img
  for img in $IMAGES; do
    local want have
    want=$(docker image inspect --format '{{.Id}}' "$img")
    have=$(ndocker "$i" image inspect --format '{{.Id}}' "$img" 2>/dev/null || true)
    [ "$want" = "$have" ] || missing+=("$img")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  docker save "${missing[@]}" | ndocker "$i" load -q >/dev/null
}

ready_nodes() { ndocker 1 node ls --format '{{.Status}} {{.Availability}}' 2>/dev/null | grep -c '^Ready Active$' || true; }

healthy() { # n
  local n=$1 i
  for i in $(seq 1 "$n"); do engine_answers "$i" || return 1; done
  [ "$(swarm_state 1)" = active ] || return 1
  [ "$(ready_nodes)" -eq "$n" ]
}

print_env() {
  local n=$1 i
  echo "SWARM_NAME=$NAME"
  echo "SWARM_NODES=$n"
  echo "SWARM_HOST_IP=$HOST_IP"
  for i in $(seq 1 "$n"); do
    echo "SWARM_NODE_${i}_SOCKET=$(node_sock "$i")"
    echo "SWARM_NODE_${i}_IP=$(node_ip "$i")"
    echo "SWARM_NODE_${i}_ID=$(ndocker "$i" info --format '{{.Swarm.NodeID}}' 2>/dev/null)"
  done
  echo "DOCKER_HOST=unix://$(node_sock 1)"
}

cmd_up() {
  local n=${1:-3} i
  [[ "$n" =~ ^[1-9]$ ]] || die "up takes a node count from 1 to 9"
  need_root; need_tools
  # A swarm of another size, or one that does not answer, is rebuilt from scratch.
  if healthy "$n" && [ "$(node_count)" -eq "$n" ]; then
    for i in $(seq 1 "$n"); do load_images "$i"; done
    print_env "$n"; return 0
  fi
  [ "$(node_count)" -eq 0 ] || { log "rebuilding a swarm that is not healthy"; cmd_down; }
  network_up
  for i in $(seq 1 "$n"); do netns_up "$i"; engine_start "$i" & done
  wait_all "engines"
  for i in $(seq 1 "$n"); do load_images "$i" & done
  wait_all "image loads"
  # A heartbeat of 1 s: a stopped node is seen down within seconds, not half a minute. Swarm's own
  # task history (5): a failed update's tasks, and why they failed, outlive the rollback.
  ndocker 1 swarm init --advertise-addr "$(node_ip 1)" --listen-addr "$(node_ip 1):2377" \
    --default-addr-pool "$SWARM_POOL" --dispatcher-heartbeat 1s --task-history-limit 5 >/dev/null
  local token; token=$(ndocker 1 swarm join-token -q worker)
  for i in $(seq 2 "$n"); do
    ndocker "$i" swarm join --token "$token" --advertise-addr "$(node_ip "$i")" --listen-addr "$(node_ip "$i"):2377" "$(node_ip 1):2377" >/dev/null &
  done
  wait_all "joins"
  wait_for "$n nodes ready" bash -c "[ \"\$(docker -H unix://$(node_sock 1) node ls --format '{{.Status}} {{.Availability}}' | grep -c '^Ready Active\$')\" -eq $n ]" \
    || die "the swarm did not report $n ready nodes within ${WAIT_SECONDS}s"
  print_env "$n"
}

wait_all() {
  local what=$1 failed=0 pid
  for pid in $(jobs -p); do wait "$pid" || failed=1; done
  [ $failed -eq 0 ] || die "$what failed"
}

# The processes of our cgroup subtree (node i's containers): ours by construction.
kill_cgroup() {
  local n=$1 d pids
  for d in /sys/fs/cgroup/*/"$n" /sys/fs/cgroup/"$n"; do
    [ -d "$d" ] || continue
    # Cgroups vanish under find as their processes die: a partial list is fine, the engine stop catches the rest.
    pids=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u || true)
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
  done
}

rm_cgroups() {
  local n=$1 d
  for d in /sys/fs/cgroup/*/"$n" /sys/fs/cgroup/"$n"; do
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

engine_stop() {
  local i=$1 n pid
  n=$(node_name "$i")
  pid=$(cat "$(node_pid "$i")" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$(( $(date +%s) + 30 ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  # What the engine leaves when it dies hard: containerd, shims, containers. All live in our
  # namespace or our cgroup subtree, so nothing of anyone else's is looked at.
  if ip netns list | grep -qw "$n"; then
    local left; left=$(ip netns pids "$n" 2>/dev/null || true)
    [ -z "$left" ] || kill -9 $left 2>/dev/null || true
  fi
  kill_cgroup "$n"
  rm -f "$(node_pid "$i")" "$(node_sock "$i")"
}

unmount_under() {
  local dir m
  # mountinfo names real paths: /var/run is a link to /run here.
  dir=$(readlink -f "$1")
  # Deepest first; lazily, since a dead shim's mounts may still be busy for a moment.
  for m in $(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

# A node lost as a machine is lost: its containers die with it, no grace period.
cmd_stop_node() { need_root; kill_cgroup "$(node_name "$1")"; engine_stop "$1"; }
cmd_start_node() { need_root; netns_up "$1"; engine_start "$1"; }

cmd_down() {
  need_root
  local n i ns
  n=$(node_count)
  # Containers first: an engine stopping politely waits out every container's grace period.
  for i in $(seq 1 "$n"); do kill_cgroup "$(node_name "$i")"; engine_stop "$i" & done
  # Whatever an engine stop met, the rest of the teardown still runs.
  local pid; for pid in $(jobs -p); do wait "$pid" || true; done
  for i in $(seq 1 "$n"); do
    ns=$(node_name "$i")
    unmount_under "/var/run/$ns"
    unmount_under "/var/lib/$ns"
    rm -rf "/var/run/$ns" "/var/lib/$ns" "/var/lib/$ns.log"
    ip link del "${TAG}n$i" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm_cgroups "$ns"
  done
  iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
}

case "${1:-}" in
  up) cmd_up "${2:-3}" ;;
  down) cmd_down ;;
  stop-node) [[ "${2:-}" =~ ^[1-9]$ ]] || die "stop-node takes a node number"; cmd_stop_node "$2" ;;
  start-node) [[ "${2:-}" =~ ^[1-9]$ ]] || die "start-node takes a node number"; cmd_start_node "$2" ;;
  env) print_env "$(node_count)" ;;
  *) echo "usage: $0 up [N] | down | stop-node I | start-node I | env" >&2; exit 2 ;;
esac
