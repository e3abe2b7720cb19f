#!/usr/bin/env bash
# Makes sure the Debian packages the registry tests and the pull benchmark
# need are installed: docker-registry (the CNCF distribution registry, run by
# the tests themselves on 127.0.0.1) and apache2-utils (`htpasswd -B` for its
# auth file). Quiet when both are there; installs them as root otherwise,
# waiting for another apt run to finish. Never starts a registry service.
set -euo pipefail
exec </dev/null

missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-registry: install ${missing[*]} first (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "ensure-registry: installing ${missing[*]}" >&2
# Another apt run (a helper, CI's own step) may hold the lock: wait for it rather than fail.
for attempt in $(seq 1 60); do
  if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    break
  fi
  if [ "$attempt" -eq 1 ]; then apt-get -o DPkg::Lock::Timeout=60 update -qq >/dev/null 2>&1 || true; fi
  if [ "$attempt" -eq 60 ]; then echo "ensure-registry: apt-get install ${missing[*]} failed" >&2; exit 1; fi
  sleep 2
done
