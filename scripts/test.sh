#!/usr/bin/env bash
# Installs what is needed (apt: openssh-client, openssh-server, and chromium for the status
# page test; npm packages) and runs the whole test suite: the container image built and run
# with podman (as root; skipped loudly otherwise), then typecheck, unit tests, integration
# tests against a real sshd and the status page in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh chromium
# The image stage runs first so the test runner's summary closes the output; its failure
# still fails the run, after the other tests have had their say.
container_status=0
bash scripts/container-test.sh || container_status=$?
npm test
exit "$container_status"
