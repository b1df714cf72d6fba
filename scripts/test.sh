#!/usr/bin/env bash
# Installs what is needed (apt: openssh-client, openssh-server; npm packages) and runs the
# whole test suite: typecheck, unit tests, integration tests against a real sshd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm test
