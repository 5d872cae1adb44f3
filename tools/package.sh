#!/usr/bin/env bash
# Builds the Debian package (cmake/packaging.cmake, CPack) from the build directory and
# checks it: its control fields and files, the extracted binaries (--version, --help),
# the systemd unit (systemd-analyze verify), and a smoke run of the extracted node started
# from the packaged example configuration. Prints the .deb's path last; exits non-zero
# on any failure.
#
#   tools/package.sh                  # build/ -> build/package/anarchoredis_<version>_<arch>.deb
#   BUILD_DIR=/tmp/b tools/package.sh
#
# Needs cmake, ninja, dpkg-dev (dpkg-deb, dpkg-shlibdeps) and file; the smoke run also
# needs redis-server and redis-cli (it is skipped without them). The build and cpack run
# under flock /tmp/anarcho-build.lock, one build at a time on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD_DIR=$(realpath -m "${BUILD_DIR:-build}")
OUT_DIR="$BUILD_DIR/package"
LOCK=/tmp/anarcho-build.lock

smoke_logs=()  # the smoke run's node logs, shown with any failure after it started
fail() {
  local f
  for f in "${smoke_logs[@]}"; do
    [ -s "$f" ] && { echo "--- $f (last 40 lines)" >&2; tail -40 "$f" >&2; }
  done
  echo "package.sh: FAILED: $*" >&2
  exit 1
}
step() { echo "== $*"; }

missing=()
for tool in cmake ninja cpack dpkg-deb dpkg-shlibdeps file flock; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) || fail "missing tools: ${missing[*]} (apt-get install cmake ninja-build dpkg-dev file util-linux)"

# ------------------------------------------------------------------ build and package
step "building the programs and the .deb in $BUILD_DIR (waiting for $LOCK)"
rm -f "$OUT_DIR"/anarchoredis_*.deb
# shellcheck disable=SC2016  # the inner script expands its own arguments
flock "$LOCK" bash -euo pipefail -c '
  src=$1 build=$2 out=$3
  if [ ! -f "$build/build.ninja" ]; then
    cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$build" --target anarchoredis anarcho-admin anarcho-bench
  cpack --config "$build/CPackConfig.cmake" -G DEB -B "$out"
' package "$SRC" "$BUILD_DIR" "$OUT_DIR"

debs=("$OUT_DIR"/anarchoredis_*.deb)
[ -f "${debs[0]}" ] || fail "cpack made no anarchoredis_*.deb in $OUT_DIR"
((${#debs[@]} == 1)) || fail "more than one .deb in $OUT_DIR: ${debs[*]}"
DEB=${debs[0]}

# ------------------------------------------------------------------ control fields
step "dpkg-deb --info $DEB"
dpkg-deb --info "$DEB"
field() { dpkg-deb --field "$DEB" "$1"; }

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD_DIR/CMakeCache.txt")
[ -n "$version" ] || fail "the project has no version (project(... VERSION x.y.z) in CMakeLists.txt)"
[ "$(field Package)" = anarchoredis ] || fail "Package is '$(field Package)', not anarchoredis"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', the project's is $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture is '$(field Architecture)'"
depends=$(field Depends)
for dep in 'redis-server (>= 5:7.0)' adduser libc6 libstdc++6 librocksdb libprotobuf libabsl libssl3 liblzf1; do
  [[ "$depends" == *"$dep"* ]] || fail "Depends lacks $dep: $depends"
done
[ -n "$(field Maintainer)" ] || fail "no Maintainer"

control=$(mktemp -d)
scratch=$(mktemp -d)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -KILL "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$control" "$scratch"
}
trap cleanup EXIT
dpkg-deb --control "$DEB" "$control"
for script in postinst prerm postrm; do
  [ -x "$control/$script" ] || fail "maintainer script $script missing or not executable"
  sh -n "$control/$script" || fail "$script: syntax error"
done
grep -qx /etc/anarchoredis/anarchoredis.conf.example "$control/conffiles" || fail "the example config is not a conffile"
grep -qx /etc/logrotate.d/anarchoredis "$control/conffiles" || fail "the logrotate file is not a conffile"

# ------------------------------------------------------------------ files
step "dpkg-deb --contents $DEB"
dpkg-deb --contents "$DEB"
root="$scratch/root"
dpkg-deb -x "$DEB" "$root"
for bin in anarchoredis anarcho-admin anarcho-bench; do
  [ -x "$root/usr/bin/$bin" ] || fail "/usr/bin/$bin missing or not executable"
  if file -b "$root/usr/bin/$bin" | grep -q 'not stripped'; then fail "/usr/bin/$bin is not stripped"; fi
done
unit="$root/usr/lib/systemd/system/anarchoredis@.service"
[ -f "$unit" ] || fail "the systemd unit is not at /usr/lib/systemd/system/anarchoredis@.service"
cmp -s "$unit" packaging/anarchoredis@.service || fail "the packaged unit differs from packaging/anarchoredis@.service"
conf="$root/etc/anarchoredis/anarchoredis.conf.example"
cmp -s "$conf" packaging/anarchoredis.conf.example || fail "the packaged example config differs from packaging/"
[ -f "$root/etc/logrotate.d/anarchoredis" ] || fail "/etc/logrotate.d/anarchoredis missing"
for doc in README.md design.md operations.md examples/monitoring/grafana-dashboard.json \
           examples/monitoring/alerts.yml examples/docker/Dockerfile examples/docker/docker-compose.yml; do
  [ -f "$root/usr/share/doc/anarchoredis/$doc" ] || fail "/usr/share/doc/anarchoredis/$doc missing"
done
echo "binaries, unit, configuration and docs are where expected"

# ------------------------------------------------------------------ the binaries run
step "anarchoredis --version"
out=$("$root/usr/bin/anarchoredis" --version) || fail "anarchoredis --version exited $?"
echo "$out"
[[ "$out" == *"$version"* ]] || fail "anarchoredis --version does not name version $version"
step "anarcho-admin --help"
"$root/usr/bin/anarcho-admin" --help || fail "anarcho-admin --help exited $?"
step "anarcho-bench --help"
"$root/usr/bin/anarcho-bench" --help >/dev/null || fail "anarcho-bench --help exited $?"

# ------------------------------------------------------------------ the unit
if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify anarchoredis@n1.service"
  # A root with the packaged files, the host's own units (the targets the unit refers to)
  # and the kill(1) that ExecReload runs.
  vroot="$scratch/verify"
  mkdir -p "$vroot/usr/lib/systemd/system" "$vroot/bin"
  cp -a /lib/systemd/system/. "$vroot/usr/lib/systemd/system/"
  cp -a "$root/." "$vroot/"
  cp "$(type -P kill)" "$vroot/bin/kill"
  systemd-analyze verify --man=no --root="$vroot" anarchoredis@n1.service || fail "systemd-analyze verify"
  echo "unit verified"
else
  echo "systemd-analyze not found: unit not verified"
fi

# ------------------------------------------------------------------ smoke run
# The extracted node, configured by the packaged example with local addresses and
# paths: it must start, serve, report healthy, export metrics and stop cleanly on SIGTERM.
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  step "smoke run of the extracted node with the example configuration"
  # Below Linux's default ephemeral range (32768-60999): a port there may be
  # taken between this check and the node's bind by another process's
  # outgoing connection (a full test run once failed "metrics: listen ... Address already in use").
  free_port() {
    local p
    for _ in $(seq 50); do
      p=$((20000 + RANDOM % 12000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    fail "no free port found"
  }
  port=$(free_port); raft_port=$(free_port); metrics_port=$(free_port)
  smoke="$scratch/smoke"
  mkdir -p "$smoke"
  head -c 32 /dev/urandom >"$smoke/cluster.secret"
  sed -e "s|^bind .*|bind 127.0.0.1|" \
      -e "s|^port .*|port $port|" \
      -e "s|^raft-port .*|raft-port $raft_port|" \
      -e "s|^peers .*|peers 1=127.0.0.1:$port:$raft_port|" \
      -e "s|^dir .*|dir $smoke/n1|" \
      -e "s|^cluster-secret-file .*|cluster-secret-file $smoke/cluster.secret|" \
      -e "s|^logfile .*|logfile $smoke/n1.log|" \
      -e "s|^metrics-port .*|metrics-port $metrics_port|" \
      "$conf" >"$smoke/n1.conf"
  for setting in "port $port" "dir $smoke/n1" "metrics-port $metrics_port" "logfile $smoke/n1.log"; do
    grep -qx "$setting" "$smoke/n1.conf" || fail "the example config has no line to set '$setting' from"
  done
  "$root/usr/bin/anarchoredis" --config "$smoke/n1.conf" --redis-server "$(command -v redis-server)" \
      >"$smoke/stderr" 2>&1 &
  node_pid=$!
  smoke_logs=("$smoke/stderr" "$smoke/n1.log")
  for _ in $(seq 100); do
    # A data command: PING is answered before the node has a leader.
    [[ "$(redis-cli -p "$port" EXISTS 'anarcho:ready?' 2>/dev/null)" =~ ^[0-9]+$ ]] && break
    kill -0 "$node_pid" 2>/dev/null || fail "the node exited at start"
    sleep 0.2
  done
  [[ "$(redis-cli -p "$port" EXISTS 'anarcho:ready?' 2>/dev/null)" =~ ^[0-9]+$ ]] || fail "the node does not serve"
  answer=$(redis-cli -p "$port" SET smoke ok 2>&1) || true
  [ "$answer" = OK ] || fail "SET answered '$answer'"
  answer=$(redis-cli -p "$port" GET smoke 2>&1) || true
  [ "$answer" = ok ] || fail "GET did not read the write back: '$answer'"
  answer=$(redis-cli -p "$port" ANARCHO.HEALTH 2>&1) || true
  [ "$(sed -n 2p <<<"$answer")" = ok ] || fail "ANARCHO.HEALTH is not ok: $answer"
  if command -v curl >/dev/null; then
    metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || fail "GET /metrics failed"
    for name in anarcho_raft_term anarcho_raft_role anarcho_raft_leader_id anarcho_raft_commit_index \
                anarcho_raft_applied_index anarcho_raft_apply_lag_entries anarcho_child_healthy \
                anarcho_clients_connected anarcho_log_entries_total anarcho_log_fsync_duration_seconds_bucket; do
      grep -q "^${name}[{ ]" <<<"$metrics" || fail "/metrics has no $name"
    done
    echo "metrics endpoint serves the expected metrics"
  else
    echo "curl not found: metrics endpoint not checked"
  fi
  kill -TERM "$node_pid"
  status=0
  wait "$node_pid" || status=$?
  node_pid=""
  [ "$status" -eq 0 ] || fail "the node exited $status on SIGTERM"
  echo "the node started from the example configuration, served, and stopped on SIGTERM"
else
  echo "redis-server or redis-cli not found: smoke run skipped"
fi

step "package"
echo "$DEB"
