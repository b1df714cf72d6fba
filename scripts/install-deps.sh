#!/usr/bin/env bash
# Installs what autotunnel needs on Debian/Ubuntu: the OpenSSH client (and, for the demo and
# the tests, the server), setpriv (util-linux), then the npm packages, then builds.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
for extra in "$@"; do
  dpkg -s "$extra" >/dev/null 2>&1 || need+=("$extra")
done

if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install-deps: need root (or sudo) to install: ${need[*]}" >&2
      exit 1
    fi
  fi
  echo "install-deps: installing ${need[*]} with apt-get" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "install-deps: Node.js >= 20.19 is required (https://nodejs.org or your distribution's nodejs package)" >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
