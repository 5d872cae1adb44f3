#!/bin/sh
# TLS rows beside anarcho-bench compare's: a 3-node cluster's leader against
# a plain redis-server, each on its plain port and on its TLS port, in the
# same run, with redis-benchmark (Debian's, built with TLS). Also the cost of
# a new connection (-k 0: every request on a new connection, so with TLS a
# handshake each). Certificates: tests/node/testdata/tls.
#   bench/tls_compare.sh [BUILD_DIR] [REQUESTS]
set -eu
BUILD=${1:-build}
N=${2:-200000}
CERTS=$(cd "$(dirname "$0")/../tests/node/testdata/tls" && pwd)
WORK=$(mktemp -d /tmp/anarcho-tls-bench.XXXXXX)
TLS="--tls --cacert $CERTS/ca.crt --cert $CERTS/client.crt --key $CERTS/client.key"
cleanup() {
  "$BUILD/tools/anarcho-admin" cluster stop --dir "$WORK/cluster" >/dev/null 2>&1 || true
  redis-cli -p 7651 shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
"$BUILD/tools/anarcho-admin" cluster start --dir "$WORK/cluster" --base-port 7601 --tls-certs "$CERTS" >/dev/null
redis-server --port 7651 --tls-port 7652 --tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key" \
  --tls-ca-cert-file "$CERTS/ca.crt" --save '' --appendonly no --dir "$WORK" --daemonize yes --logfile "$WORK/redis.log"
sleep 1
LEADER=$("$BUILD/tools/anarcho-admin" status --dir "$WORK/cluster" | awk '$3 == "leader" {split($2, a, ":"); print a[2]; exit}')
LEADER=${LEADER:-7601}
rps() {  # port, extra flags, test, pipeline, clients, requests
  redis-benchmark -p "$1" $2 -t "$3" -P "$4" -c "$5" -n "$6" -r 100000 -d 16 -q 2>/dev/null |
    awk -F'[: ]+' '/requests per second/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}'
}
row() {  # name, test, pipeline, clients, requests, node port, redis port, extra
  a=$(rps "$6" "$8" "$2" "$3" "$4" "$5"); b=$(rps "$7" "$8" "$2" "$3" "$4" "$5")
  printf '| %s | %s | %s | %.2f |\n' "$1" "$a" "$b" "$(echo "$a / $b" | bc -l)"
}
echo "| workload | anarchoredis leader (req/s) | redis-server (req/s) | ratio |"
echo "|---|---:|---:|---:|"
row "SET P=1 c=50 plain" set 1 50 "$N" "$LEADER" 7651 ""
row "SET P=1 c=50 TLS" set 1 50 "$N" "$((LEADER + 200))" 7652 "$TLS"
row "GET P=16 c=50 plain" get 16 50 "$((N * 5))" "$LEADER" 7651 ""
row "GET P=16 c=50 TLS" get 16 50 "$((N * 5))" "$((LEADER + 200))" 7652 "$TLS"
row "PING, new connection each, plain" ping_inline 1 1 2000 "$LEADER" 7651 "-k 0"
row "PING, new connection each, TLS" ping_inline 1 1 2000 "$((LEADER + 200))" 7652 "$TLS -k 0"
