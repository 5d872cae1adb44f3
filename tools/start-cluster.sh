#!/usr/bin/env bash
# Installs, builds and starts a local three-node cluster on ports 7001-7003.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
build/tools/anarcho-admin cluster stop --dir .cluster >/dev/null 2>&1 || true
build/tools/anarcho-admin cluster start --dir .cluster --nodes 3 --base_port "${BASE_PORT:-7001}"
