#!/usr/bin/env bash
# Installs what anarchoredis builds and runs with, from Debian packages only.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libasio-dev libssl-dev librocksdb-dev libabsl-dev libprotobuf-dev protobuf-compiler zlib1g-dev
      libspdlog-dev prometheus-cpp-dev libsystemd-dev nlohmann-json3-dev liblzf-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      redis-server redis-tools gnuplot-nox
      dpkg-dev file curl  # tools/package.sh (in the suite)
      openssl python3-redis  # the TLS tests (openssl s_client against the Raft port; a client library)
      tcl python3)  # tcl, python3: Redis's own test suite (tests/compat)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian package starts a system redis on 6379; nothing here uses it.
