#!/usr/bin/env bash
# Installs what is needed (apt: openssh-client, openssh-server, and chromium for the status
# page test; npm packages; a Debian trixie tree with OpenSSH 10, scripts/openssh10-tree.sh) and
# runs the whole test suite: the container image built and run with podman (as root; skipped
# loudly otherwise), then typecheck, unit tests, integration tests against a real sshd (the
# machine's, and OpenSSH 10 where the tree could be built) and the status page in headless
# Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh chromium
# OpenSSH 10 (Debian trixie) for the tests' second server; cached after the first build. When it
# cannot be built it says so loudly and the OpenSSH 10 variants are skipped, not failed.
bash scripts/openssh10-tree.sh >/dev/null
# The image stage runs first so the test runner's summary closes the output; its failure
# still fails the run, after the other tests have had their say.
container_status=0
bash scripts/container-test.sh || container_status=$?
npm test
exit "$container_status"
