#!/bin/sh
# Prunes the runtime file system (the Dockerfile's "rootfs" stage), which is then copied into
# an empty image: what is deleted here is really gone, not hidden under a layer.
#
# A tunnel container runs node, ssh, setpriv, tini and /bin/sh for the entrypoint. It installs
# no packages and logs no one in. Everything else that can go without breaking what stays goes;
# the check at the end fails the build if any program or library left behind lost a library.
set -eu

# --- Whole packages, removed with dpkg so that its database (what image scanners and
# `dpkg -l` read) stays true. Their removal scripts are skipped: they tidy system configuration
# (init links, PAM profiles, debconf answers) that a container does not have, and they need the
# very tools being removed.
#  - package management: apt with its keyring and TLS stack, debconf, perl (only maintainer
#    scripts use it). Extend the image by building from BASE_IMAGE, not with apt-get.
#  - logins and accounts: login, passwd, PAM modules, SELinux policy tools, adduser; with them
#    goes every setuid program.
#  - disks and boot: e2fsprogs, mount, sysvinit-utils, init-system-helpers, the rest of
#    util-linux (see below) and the libraries only they used (libsystemd0, libgcrypt20, ...).
#  - tzdata: logs are in UTC, and Node carries its own time-zone data.
#  - libfido2 and its libraries: only the excluded ssh-sk-helper used them.
prune='
  apt libapt-pkg6.0 gpgv debian-archive-keyring libgnutls30 libp11-kit0 libtasn1-6
  libunistring2 libidn2-0 libnettle8 libhogweed6 libffi8 debconf perl-base
  adduser passwd login libpam-modules libpam-modules-bin libpam-runtime libpam0g libsemanage2
  libsemanage-common libsepol2 libaudit1 libaudit-common libdb5.3
  e2fsprogs libext2fs2 libss2 logsave mount bsdutils sysvinit-utils init-system-helpers
  usr-is-merged util-linux-extra libmount1 libblkid1 libsmartcols1 libuuid1 libsystemd0
  libgcrypt20 libgpg-error0 liblz4-1 libcap2 libudev1 libfido2-1 libcbor0.8
  tzdata ncurses-bin
'
installed="$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '/^ii/ { sub(/:.*/, "", $2); print $2 }')"
remove=''
for p in $prune; do
  if echo "$installed" | grep -qx "$p"; then remove="$remove $p"; fi
done
for p in $remove; do
  rm -f /var/lib/dpkg/info/"$p".prerm /var/lib/dpkg/info/"$p".postrm \
        /var/lib/dpkg/info/"$p":*.prerm /var/lib/dpkg/info/"$p":*.postrm
done
# shellcheck disable=SC2086 # word splitting of the package list is intended
dpkg --purge --force-remove-essential --force-depends $remove >/tmp/dpkg-purge.log 2>&1 || {
  cat /tmp/dpkg-purge.log >&2
  exit 1
}
rm -f /tmp/dpkg-purge.log
# shellcheck disable=SC2086
if dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' $remove 2>/dev/null | grep -v '^un'; then
  echo 'slim-rootfs: the packages above were not removed' >&2
  exit 1
fi

# --- util-linux stays registered (so its version, and setpriv's, is visible to scanners), but
# of its files only setpriv stays: autotunnel starts ssh through `setpriv --pdeathsig` so that
# ssh dies with it. The rest are disk, terminal and login tools, and they need the libraries
# removed above.
# (Directories are skipped, symlinked ones too: /bin and /lib64 are symlinks in merged /usr.)
dpkg -L util-linux | while read -r f; do
  case "$f" in
    /usr/bin/setpriv | /etc/*) ;;
    *) if [ ! -d "$f" ] && { [ -f "$f" ] || [ -L "$f" ]; }; then rm -f "$f"; fi ;;
  esac
done

# --- Files of kept packages and of the Node base:
#  - glibc's iconv modules: neither Node (ICU) nor ssh converts charsets through iconv.
#  - npm, corepack, yarn, C headers and the official image's docker-entrypoint.sh come with the
#    Node base, for development.
#  - tini-static: the dynamically linked tini is used.
rm -rf /usr/lib/*-linux-gnu/gconv /usr/bin/tini-static \
  /usr/local/lib/node_modules /usr/local/include /usr/local/share \
  /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg \
  /usr/local/bin/docker-entrypoint.sh \
  /opt/yarn-* \
  /var/lib/apt /var/cache/apt /var/cache/debconf /var/cache/ldconfig/aux-cache /var/log/* \
  /usr/share/zoneinfo /usr/share/doc/util-linux /usr/share/doc/tzdata /var/lib/pam /etc/security

# No program may raise privileges, whoever runs it: the login tools are gone; this catches the rest.
find / -xdev -type f -perm /6000 -exec chmod a-s {} +

# --- The check: every ELF program and library left must find all of its libraries.
ldconfig
find /usr/bin /usr/sbin /usr/lib /usr/libexec /usr/local -xdev -type f \( -perm /111 -o -name '*.so*' \) \
  >/tmp/slim-rootfs.files 2>/dev/null || true
# ELF files (they start with 0x7f 'E' 'L' 'F'; scripts and data are skipped) found with one grep,
# and each traced by the dynamic loader, as ldd does, in one shell: the same check in a tenth
# of the programs started, which matters where each start is emulated (the arm64 image built
# on amd64: 114 s per-file with ldd, 7 s this way).
tr '\n' '\0' </tmp/slim-rootfs.files | LC_ALL=C xargs -0 grep -l -m1 -a "^$(printf '\177')ELF" \
  >/tmp/slim-rootfs.elf || true
rtld="$(ls /lib/ld-linux*.so.* /lib64/ld-linux*.so.* 2>/dev/null | head -1)"
[ -x "$rtld" ] || { echo "slim-rootfs: no dynamic loader in /lib or /lib64" >&2; exit 1; }
missing="$(xargs -d '\n' sh -c 'for f; do echo "== $f"; LD_TRACE_LOADED_OBJECTS=1 "$0" "$f" 2>/dev/null; done' \
  "$rtld" </tmp/slim-rootfs.elf | awk '/^== / { f = substr($0, 4) } /not found/ { print f ":" $0 }')"
rm -f /tmp/slim-rootfs.files /tmp/slim-rootfs.elf
broken=0
if [ -n "$missing" ]; then
  echo "slim-rootfs: programs and libraries that lost libraries:" >&2
  echo "$missing" >&2
  broken=1
fi
[ "$broken" = 0 ] || exit 1
# ssh-agent keeps a key with a passphrase for autotunnel; Debian installs it setgid _ssh (only
# to keep other users from ptracing it), and the image has no setgid programs: the agent makes
# itself undumpable anyway.
chmod g-s /usr/bin/ssh-agent
for f in /usr/bin/ssh-agent /usr/bin/ssh-add /usr/local/bin/node /usr/bin/ssh /usr/bin/setpriv /usr/bin/tini /bin/sh /usr/bin/getent /usr/bin/id; do
  [ -x "$f" ] || { echo "slim-rootfs: $f is missing" >&2; exit 1; }
done
