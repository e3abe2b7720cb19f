#!/usr/bin/env bash
# Makes sure Debian's pebble (Let's Encrypt's ACME test server, with
# pebble-challtestsrv) is installed: the router's ACME tests run it on
# 127.0.0.1. Quiet when it is there; installs it as root; waits out an apt
# lock held by another install; never reads stdin.
set -euo pipefail
exec </dev/null

if command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-pebble: pebble is missing; install it as root: apt-get install pebble" >&2
  exit 1
fi
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=60 pebble >/dev/null 2>&1; then
    exit 0
  fi
  # The package lists may be missing or old on a fresh machine.
  apt-get update -qq >/dev/null 2>&1 || true
  sleep "$attempt"
done
echo "ensure-pebble: cannot install pebble with apt-get; see apt-get install pebble" >&2
exit 1
