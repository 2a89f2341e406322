#!/usr/bin/env bash
# Instructions per request of the gateway, counted by callgrind: repeatable where
# CPU time on a shared 2-core VM is not (see bench/README.md, "Profiles").
#
#   bench/instructions.sh [BIN ...]    # default: the release binary
#
# For each binary: the three subgraphs on fresh SQLite files with the demo data, the
# gateway under `valgrind --tool=callgrind` with in-flight deduplication off (requests
# go one at a time anyway), 10 warm-up requests of scenario 2's nested query, counters
# zeroed, N (default 50) more, counters dumped. Prints Ir ÷ N.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=("${CARGO_TARGET_DIR:-target}/release/switchyard")
unset SWITCHYARD_BIN
NESTED='{"query":"{ users(first: 50) { edges { node { id name orders { edges { node { id totalCents items { sku quantity } notifications { title read } } } } unreadNotificationCount } } } }"}'
work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-instructions.XXXXXX")
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
up() { for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.2; done; return 1; }
ask() { curl -sf -o /dev/null -H 'content-type: application/json' -d "$NESTED" http://127.0.0.1:4000/graphql; }

for bin in "${bins[@]}"; do
  pids=()
  for name in users orders notifications; do
    upper=$(echo "$name" | tr a-z A-Z)
    env "${upper}_DATABASE_URL=sqlite://$work/$name-$$.db?mode=rwc" "${upper}_SEED=true" RUST_LOG=warn \
      "$bin" subgraph "$name" >"$work/$name.log" 2>&1 &
    pids+=($!)
  done
  up 4001 && up 4002 && up 4003
  out="$work/callgrind.out"
  SWITCHYARD_DEDUP_SUBGRAPH_REQUESTS=false RUST_LOG=warn valgrind --tool=callgrind \
    --callgrind-out-file="$out" "$bin" gateway --supergraph schema/supergraph.graphql \
    >"$work/gateway.log" 2>&1 &
  gateway=$!
  pids+=($gateway)
  up 4000 || { cat "$work/gateway.log" >&2; exit 1; }
  for _ in $(seq 1 10); do ask; done
  callgrind_control -z "$gateway" >/dev/null 2>&1
  for _ in $(seq 1 "$N"); do ask; done
  callgrind_control -d "$gateway" >/dev/null 2>&1
  sleep 1
  total=$(callgrind_annotate "$out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  echo "$bin: $((total / N)) instructions per nested request"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$work"/*.db* "$out"*
done
