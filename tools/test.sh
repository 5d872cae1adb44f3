#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (unit, simulation, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
cd build
ctest --output-on-failure --timeout 600 -j"${TEST_JOBS:-1}" "$@"
