#!/usr/bin/env bash
# Early load measurement (the full harness is issue "Speed"): the federation as
# separate release processes on SQLite, wrk from a separate process on 127.0.0.1.
#   bench/run.sh            # DURATION=10s CONNECTIONS=32 by default
# Prints wrk's summary per scenario and the gateway's CPU seconds per request.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SWITCHYARD_BIN:-target/release/switchyard}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
[ -x "$BIN" ] || cargo build --release -p switchyard

work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for name in users orders notifications; do
  upper=$(echo "$name" | tr a-z A-Z)
  env "${upper}_DATABASE_URL=sqlite://$work/$name.db?mode=rwc" "${upper}_SEED=true" RUST_LOG=warn \
    "$BIN" subgraph "$name" >"$work/$name.log" 2>&1 &
  pids+=($!)
done
RUST_LOG=warn "$BIN" gateway --supergraph schema/supergraph.graphql >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)
for port in 4001 4002 4003 4000; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done

cpu_seconds() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
run() { # name url body
  local before after requests
  before=$(cpu_seconds "$gateway_pid")
  out=$(BODY="$3" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/graphql.lua "$2")
  after=$(cpu_seconds "$gateway_pid")
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  echo "== $1"
  echo "$out" | grep -E "Requests/sec|50%|90%|99%|graphql_errors|Non-2xx"
  echo "gateway CPU s/request: $(echo "$before $after $requests" | awk '{ printf "%.6f", ($2 - $1) / $3 }')"
  echo "gateway peak RSS: $(awk '/VmHWM/ { print $2, $3 }' /proc/$gateway_pid/status)"
}
ONE='{"query":"{ user(id: \"7\") { id name email } }"}'
NESTED='{"query":"{ users(first: 50) { edges { node { id name orders { edges { node { id totalCents items { sku quantity } notifications { title read } } } } unreadNotificationCount } } } }"}'
run "1a one fetch, straight to the users subgraph" http://127.0.0.1:4001/graphql "$ONE"
run "1b one fetch, through the gateway" http://127.0.0.1:4000/graphql "$ONE"
run "2 users -> orders -> items -> notifications, 50 users, through the gateway" http://127.0.0.1:4000/graphql "$NESTED"
