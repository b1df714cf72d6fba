#!/usr/bin/env bash
# Installs what is needed (apt: openssh-client, openssh-server, and chromium for the status
# page test; npm packages) and runs the whole test suite: typecheck, unit tests, integration
# tests against a real sshd and the status page in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh chromium
npm test
