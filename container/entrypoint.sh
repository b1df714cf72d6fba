#!/bin/sh
# The image's entrypoint (under tini): runs autotunnel with the container's arguments.
#
# One thing has to happen first. ssh looks its own uid up in the password database and refuses
# to run without an entry ("No user exists for uid 12345"), and a container may run under a uid
# the image has never heard of: `docker run --user 12345:0`, Kubernetes' runAsUser, OpenShift's
# random uids. (Podman adds a passwd entry itself; Docker and Kubernetes do not.) For that case,
# and only then, the process gets a private passwd file with an entry for its uid through
# nss_wrapper: nothing in /etc is made writable, so this also works on a read-only root
# filesystem, and the image's own user and podman's runs are left alone.
set -eu

uid="$(id -u)"
if ! getent passwd "$uid" >/dev/null 2>&1; then
  gid="$(id -g)"
  # /tmp must be writable anyway (key copies go there when /dev/shm is not usable).
  base="${TMPDIR:-/tmp}"
  [ -w "$base" ] || base=/dev/shm
  # A restarted container keeps /tmp: remove what an earlier start left.
  for old in "$base"/autotunnel-nss.*; do
    if [ -O "$old" ]; then rm -rf "$old"; fi
  done
  dir="$(mktemp -d "$base/autotunnel-nss.XXXXXX")"
  cp /etc/passwd "$dir/passwd"
  cp /etc/group "$dir/group"
  echo "autotunnel-$uid:x:$uid:$gid:autotunnel (uid $uid):/home/autotunnel:/usr/sbin/nologin" >>"$dir/passwd"
  getent group "$gid" >/dev/null 2>&1 || echo "autotunnel-$gid:x:$gid:" >>"$dir/group"
  export LD_PRELOAD="/usr/local/lib/libnss_wrapper.so${LD_PRELOAD:+ $LD_PRELOAD}"
  export NSS_WRAPPER_PASSWD="$dir/passwd" NSS_WRAPPER_GROUP="$dir/group"
  # Docker sets HOME=/ for a uid without an entry when the image sets none.
  if [ "${HOME:-/}" = / ]; then export HOME=/home/autotunnel; fi
fi

# Node directly rather than through the autotunnel script's shebang (same V8 flags), to add
# --disable-sigusr1 where Node has it (>= 22.14; the image ships Node 24): SIGUSR1 can then
# never open Node's inspector, not even in the instant before autotunnel's own signal handlers
# are in place. An older Node (another BASE_IMAGE) would refuse the flag, so it is added by version.
node=/usr/local/bin/node
flags='--max-semi-space-size=1 --no-opt'
case "$("$node" --version)" in
  v22.1[4-9].* | v22.[2-9][0-9].* | v2[3-9].* | v[3-9][0-9].*) flags="--disable-sigusr1 $flags" ;;
esac
# shellcheck disable=SC2086 # $flags is a list of words
exec "$node" $flags /opt/autotunnel/bin/autotunnel.js "$@"
