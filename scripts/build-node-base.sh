#!/usr/bin/env bash
# Builds capstan/node-base:20, a stand-in for node:20-alpine made from this
# host's own Node: no registry can be reached here, so the Dockerfile's
# `ARG BASE` points at this image in tests. It holds the node binary and the
# shared libraries it links (at their host paths), npm, busybox as shell and
# core utils, root and a `node` user (uid/gid 1000), /tmp and CA certificates.
# Skips the build when the image's input label matches the current inputs.
set -euo pipefail
exec </dev/null

IMAGE=${NODE_BASE_IMAGE:-capstan/node-base:20}
BUSYBOX=${BUSYBOX:-/bin/busybox}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# Not in the io.capstan.* namespace: containers inherit image labels, and that namespace means "owned by Capstan".
INPUTS_LABEL=local.build.inputs

die() {
  echo "build-node-base: $*" >&2
  exit 1
}

node_bin=$(command -v node) || die "node is not on PATH"
node_bin=$(readlink -f "$node_bin")
npm_dir=$(npm root -g 2>/dev/null)/npm
[ -f "$npm_dir/bin/npm-cli.js" ] || die "npm's package directory not found at $npm_dir"
[ -x "$BUSYBOX" ] || die "$BUSYBOX is missing; install busybox-static or set BUSYBOX=/path/to/static/busybox"
[ -f "$CA_BUNDLE" ] || die "$CA_BUNDLE is missing; install ca-certificates"

# Everything that ends up in the image, plus this script itself: a change to any of them rebuilds.
inputs=$(
  {
    "$node_bin" --version
    node -p 'require(process.argv[1] + "/package.json").version' "$npm_dir"
    sha256sum "$node_bin" "$BUSYBOX" "$CA_BUNDLE" "${BASH_SOURCE[0]}" | cut -d' ' -f1
  } | sha256sum | cut -d' ' -f1
)

up_to_date() {
  local label
  label=$(docker image inspect --format "{{index .Config.Labels \"$INPUTS_LABEL\"}}" "$IMAGE" 2>/dev/null) || return 1
  [ "$label" = "$inputs" ]
}

if up_to_date; then
  exit 0
fi

# Test files may call this at once; one builds, the others wait and then find the image up to date.
exec 9>"${TMPDIR:-/tmp}/capstan-build-node-base.lock"
flock 9
if up_to_date; then
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root=$ctx/root
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules" "$root/bin" "$root/sbin" "$root/usr/bin" \
  "$root/usr/sbin" "$root/etc/ssl/certs" "$root/tmp" "$root/root" "$root/home/node"

# Where node:20-alpine keeps them, so the Dockerfile's paths mean the same thing on both bases.
cp "$node_bin" "$root/usr/local/bin/node"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
# npm-cli.js starts with `#!/usr/bin/env node`; busybox provides env.
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# The libraries node links, and the dynamic loader, at the paths the binary asks for (dereferenced).
ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

cp "$BUSYBOX" "$root/bin/busybox"
cp "$CA_BUNDLE" "$root$CA_BUNDLE"
printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:Linux User,,,:/home/node:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:root\nnode:x:1000:node\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s && chmod 1777 /tmp && chmod 700 /root && chown 1000:1000 /home/node"]
# Node trusts only its bundled roots by default: the host's bundle may hold a local CA that npm's TLS needs.
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin NODE_EXTRA_CA_CERTS=$CA_BUNDLE SSL_CERT_FILE=$CA_BUNDLE NODE_VERSION=$("$node_bin" --version | sed 's/^v//')
LABEL $INPUTS_LABEL=$inputs
CMD ["node"]
DOCKERFILE

old=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
# The classic builder needs no buildx plugin and no network for FROM scratch.
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$ctx" 2>&1); then
  echo "build-node-base: docker build failed:" >&2
  echo "$out" >&2
  exit 1
fi
# The replaced base would linger untagged; a container or tag still using it keeps it (rmi refuses).
if [ -n "$old" ] && [ "$old" != "$(docker image inspect --format '{{.Id}}' "$IMAGE")" ]; then
  docker image rm "$old" >/dev/null 2>&1 || true
fi
echo "build-node-base: built $IMAGE (node $("$node_bin" --version))" >&2
