#!/usr/bin/env bash
# Installs what is needed and runs the demo: a throwaway sshd on loopback, a tunnel through
# it, traffic, a killed ssh client and the recovery.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node bin/autotunnel.js demo "$@"
