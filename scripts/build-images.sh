#!/usr/bin/env bash
# Builds the local test/demo image capstan/busybox from the host's static
# busybox: the engine here cannot pull from a registry. Tags :latest, :1.0
# and :1.1 point at the same image so tests can change a service's image
# without a second build. Skips the build when the image already carries the
# sha256 of the current busybox, so repeated runs are nearly free.
set -euo pipefail
exec </dev/null

REPO=capstan/busybox
TAGS=(latest 1.0 1.1)
BUSYBOX=${BUSYBOX:-/bin/busybox}
# Not in the io.capstan.* namespace: containers inherit image labels, and that namespace means "owned by Capstan".
SHA_LABEL=local.build.busybox-sha256

if [ ! -x "$BUSYBOX" ]; then
  if [ "$(id -u)" -eq 0 ] && [ "$BUSYBOX" = /bin/busybox ]; then
    echo "build-images: installing busybox-static" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  else
    echo "build-images: $BUSYBOX is missing; install busybox-static (apt-get install busybox-static) or set BUSYBOX=/path/to/static/busybox" >&2
    exit 1
  fi
fi

sha=$(sha256sum "$BUSYBOX" | cut -d' ' -f1)

# Same busybox + every tag present on one image id → nothing to do.
up_to_date() {
  local id label t tid
  id=$(docker image inspect --format '{{.Id}}' "$REPO:latest" 2>/dev/null) || return 1
  label=$(docker image inspect --format "{{index .Config.Labels \"$SHA_LABEL\"}}" "$REPO:latest" 2>/dev/null) || return 1
  [ "$label" = "$sha" ] || return 1
  for t in "${TAGS[@]}"; do
    tid=$(docker image inspect --format '{{.Id}}' "$REPO:$t" 2>/dev/null) || return 1
    [ "$tid" = "$id" ] || return 1
  done
}

if up_to_date; then
  exit 0
fi

# Test files and CI steps may call this at once; one builds, the others
# wait and then find the image up to date.
exec 9>"${TMPDIR:-/tmp}/capstan-build-images.lock"
flock 9
if up_to_date; then
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BUSYBOX" "$ctx/busybox"
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
LABEL $SHA_LABEL=$sha
CMD ["/bin/sh"]
DOCKERFILE

# The classic builder needs no buildx plugin and no network for FROM scratch.
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$REPO:latest" "$ctx" 2>&1); then
  echo "build-images: docker build failed:" >&2
  echo "$out" >&2
  exit 1
fi
for t in "${TAGS[@]}"; do
  [ "$t" = latest ] || docker tag "$REPO:latest" "$REPO:$t"
done
