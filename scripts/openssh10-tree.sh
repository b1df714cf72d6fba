#!/usr/bin/env bash
# Builds (once) and caches a Debian trixie root tree with OpenSSH 10 (openssh-server and
# openssh-client), for the tests and the bench: test/harness/sshd.ts runs its /usr/sbin/sshd
# chrooted in a private mount namespace when a test asks for `version: '10'`.
#
#   bash scripts/openssh10-tree.sh            # prints the tree's path; reuses the cached tree
#   bash scripts/openssh10-tree.sh --force    # rebuild even if cached
#
# The tree lives in $AUTOTUNNEL_OPENSSH10_CACHE (default /var/cache/autotunnel/openssh10), in a
# directory named by STAMP below (change it to force every machine to rebuild), with a symlink
# `current` to it. Building takes about 20 s to 2 min (Debian's mirror); a cached tree about 10 ms.
#
# Needs root (mmdebstrap as root, and the tests chroot into the tree). When the tree cannot be
# built, this says so loudly, writes the reason to $AUTOTUNNEL_OPENSSH10_CACHE/unavailable.txt
# (the tests print it as their skip reason) and exits 0: the OpenSSH 10 variants of the tests are
# then SKIPPED, never failed. Non-interactive (CI=true, no stdin); every step is bounded in time.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org).
set -uo pipefail
exec </dev/null

CACHE="${AUTOTUNNEL_OPENSSH10_CACHE:-/var/cache/autotunnel/openssh10}"
# What the tree is: the suite, the packages, and this script's layout of it.
STAMP="trixie-openssh-v1"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
APT_TIMEOUT=600
BUILD_TIMEOUT=900

say() { echo "openssh10-tree: $*" >&2; }

unavailable() {
  mkdir -p "$CACHE" 2>/dev/null && printf '%s\n' "$*" >"$CACHE/unavailable.txt" 2>/dev/null
  printf '\n%s\n' "################################################################################" >&2
  printf '%s\n' "SKIPPED: OpenSSH 10 tree not built: $*" >&2
  printf '%s\n' "The OpenSSH 10 variants of the tests (and bench rows) will be skipped." >&2
  printf '%s\n\n' "################################################################################" >&2
  exit 0
}

FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

tree="$CACHE/$STAMP"
if [ "$FORCE" = 0 ] && [ -f "$tree/complete" ] && [ -x "$tree/root/usr/sbin/sshd" ]; then
  ln -sfn "$STAMP" "$CACHE/current" 2>/dev/null
  rm -f "$CACHE/unavailable.txt"
  say "cached: $(cat "$tree/complete")"
  echo "$tree/root"
  exit 0
fi

[ "$(id -u)" = 0 ] || unavailable "needs root (mmdebstrap, and the tests chroot into the tree); run: sudo bash scripts/openssh10-tree.sh"
mkdir -p "$CACHE" || unavailable "cannot create $CACHE"

if ! command -v mmdebstrap >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || unavailable "mmdebstrap is missing and there is no apt-get to install it"
  say "installing mmdebstrap with apt-get"
  log="$(mktemp)"
  { timeout "$APT_TIMEOUT" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    timeout "$APT_TIMEOUT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap; } >"$log" 2>&1 ||
    { tail -20 "$log" >&2; rm -f "$log"; unavailable "could not install mmdebstrap (apt-get failed; log above)"; }
  rm -f "$log"
fi
command -v unshare >/dev/null 2>&1 || unavailable "unshare (util-linux) is missing"

# One builder at a time; a second caller waits, then finds the tree built.
exec {lock}>"$CACHE/.lock"
flock -w "$BUILD_TIMEOUT" "$lock" || unavailable "another build holds $CACHE/.lock"
if [ "$FORCE" = 0 ] && [ -f "$tree/complete" ]; then
  echo "$tree/root"
  exit 0
fi

work="$(mktemp -d "$CACHE/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say "building a Debian trixie tree with openssh-server and openssh-client (mmdebstrap, about 20 s to 2 min)"
t0=$(date +%s)
# --variant=apt: the essential set plus apt, then the two packages and their dependencies.
# Manuals and translations are left out; sshd needs none of them.
if ! timeout "$BUILD_TIMEOUT" mmdebstrap --quiet --variant=apt --include=openssh-server,openssh-client \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --aptopt='APT::Install-Recommends "false"' \
    trixie "$work/root" \
    "deb $DEBIAN_MIRROR/debian trixie main" \
    "deb $DEBIAN_MIRROR/debian trixie-updates main" \
    "deb $DEBIAN_MIRROR/debian-security trixie-security main" >"$work/build.log" 2>&1; then
  tail -20 "$work/build.log" >&2
  unavailable "mmdebstrap failed (is $DEBIAN_MIRROR reachable? its last lines are printed above when this script runs)"
fi

version="$(chroot "$work/root" /usr/sbin/sshd -V 2>&1 | head -1)"
case "$version" in
  OpenSSH_10.*) ;;
  *) unavailable "the tree's sshd is not OpenSSH 10 (sshd -V said: ${version:-nothing})" ;;
esac

rm -rf "$tree"
mkdir -p "$tree"
mv "$work/root" "$tree/root"
echo "$version (built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(( $(date +%s) - t0 )) s)" >"$tree/complete"
ln -sfn "$STAMP" "$CACHE/current"
rm -f "$CACHE/unavailable.txt"
say "built: $(cat "$tree/complete")"
echo "$tree/root"
