#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the dashboard's browser test
# (driven by playwright-core; no browser download from elsewhere). Quiet when
# it is there; installs it (noninteractive apt-get, retrying while another
# apt holds the lock) when root; otherwise says how.
set -euo pipefail
exec </dev/null

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: /usr/bin/chromium is missing; install it with: sudo apt-get install -y chromium" >&2
  exit 1
fi
echo "setup: apt-get install chromium" >&2
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
    exit 0
  fi
  # Another apt (another checkout's setup) may hold the lock, or the lists may be stale.
  [ "$attempt" -eq 3 ] && DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null 2>&1 || true
  sleep 5
done
echo "ensure-chromium: apt-get install chromium failed; run it by hand to see why" >&2
exit 1
