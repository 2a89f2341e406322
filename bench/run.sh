#!/usr/bin/env bash
# The benchmark harness (issue "Speed"): one command that measures the federation
# and writes bench/RESULTS.md. See bench/README.md.
#
#   bench/run.sh                      # DURATION=10s CONNECTIONS=32 WARMUP=2s by default
#   SWITCHYARD_BIN=path/to/switchyard DURATION=3s bench/run.sh
#
# Runs three subgraphs (fresh SQLite files, demo data), the Switchyard gateway on
# :4000, a second one with bench/gateway-cached.toml on :4005, and Apollo Gateway
# (bench/peers) on :4010, all on 127.0.0.1; drives each scenario with wrk from a
# separate process after an uncounted warm-up; records RPS, latency percentiles,
# errors, gateway CPU per request, peak RSS and SQL statements per request.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-1}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
RESULTS=${RESULTS:-bench/RESULTS.md}
CACHED_CONFIG=${CACHED_CONFIG:-bench/gateway-cached.toml}
BATCH_WINDOW_US=${BATCH_WINDOW_US:-1000}
command_line="${SWITCHYARD_BIN:+SWITCHYARD_BIN=$SWITCHYARD_BIN }DURATION=$DURATION CONNECTIONS=$CONNECTIONS WARMUP=$WARMUP bench/run.sh"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- prerequisites -------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
fi
command -v node >/dev/null || die "needs Node 20+ for the Apollo Gateway peer"
command -v python3 >/dev/null || die "needs python3 for the report"
if [ ! -d bench/peers/node_modules ]; then
  log "npm ci in bench/peers"
  (cd bench/peers && npm ci --no-audit --no-fund >&2)
fi
if [ -n "${SWITCHYARD_BIN:-}" ]; then
  BIN=$SWITCHYARD_BIN
  [ -x "$BIN" ] || die "SWITCHYARD_BIN=$BIN is not an executable"
else
  BIN=${CARGO_TARGET_DIR:-target}/release/switchyard
  [ -x "$BIN" ] || { log "building $BIN"; cargo build --release -p switchyard >&2; }
fi
BIN=$(realpath "$BIN")
# The gateway reads every SWITCHYARD_* variable as configuration and rejects unknown
# ones, so the harness's own variable must not reach it.
unset SWITCHYARD_BIN

for port in 4000 4001 4002 4003 4005 4006 4007 4010; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use; stop whatever listens there first"
  fi
done

# --- processes -----------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX")
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ $status = 0 ]; then rm -rf "$work"; else log "failed (exit $status); logs kept in $work"; fi
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_until NAME PID LOG CMD...: polls CMD every 0.1 s for up to 60 s while PID lives.
wait_until() {
  local name=$1 pid=$2 logfile=$3; shift 3
  for _ in $(seq 1 600); do
    "$@" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its log begins:"; grep -v '^\s*$' "$logfile" | head -n 10 >&2; return 1
    fi
    sleep 0.1
  done
  log "$name did not become healthy within 60 s; its log:"; tail -n 20 "$logfile" >&2
  return 1
}
health() { curl -sf -o /dev/null "http://127.0.0.1:$1/health"; }
post() { # PORT BODY: prints the answer
  curl -sS -X POST -H 'Content-Type: application/json' --data "$2" "http://127.0.0.1:$1/graphql"
}
apollo_ready() { post 4010 '{"query":"{__typename}"}' 2>/dev/null | grep -q '"__typename"'; }

declare -A subgraph_pid
for name in users orders notifications; do
  upper=$(echo "$name" | tr a-z A-Z)
  env "${upper}_DATABASE_URL=sqlite://$work/$name.db?mode=rwc" "${upper}_SEED=true" RUST_LOG=warn \
    "$BIN" subgraph "$name" >"$work/$name.log" 2>&1 &
  subgraph_pid[$name]=$!
  pids+=($!)
done
port_of() { case $1 in users) echo 4001;; orders) echo 4002;; notifications) echo 4003;; esac; }
for name in users orders notifications; do
  wait_until "subgraph $name" "${subgraph_pid[$name]}" "$work/$name.log" health "$(port_of "$name")" || exit 1
done

RUST_LOG=warn "$BIN" gateway --supergraph schema/supergraph.graphql --listen 127.0.0.1:4000 \
  >"$work/gateway.log" 2>&1 &
ours_pid=$!
pids+=($ours_pid)

# The same gateway with in-flight deduplication off (it is on by default, and
# wrk's identical requests are its best case), and one with cross-request
# entity batching on.
SWITCHYARD_DEDUP_SUBGRAPH_REQUESTS=false RUST_LOG=warn "$BIN" gateway \
  --supergraph schema/supergraph.graphql --listen 127.0.0.1:4006 >"$work/gateway-nodedup.log" 2>&1 &
nodedup_pid=$!
pids+=($nodedup_pid)
SWITCHYARD_ENTITY_BATCH_WINDOW_US=$BATCH_WINDOW_US RUST_LOG=warn "$BIN" gateway \
  --supergraph schema/supergraph.graphql --listen 127.0.0.1:4007 >"$work/gateway-batched.log" 2>&1 &
batched_pid=$!
pids+=($batched_pid)

cached_skip=
RUST_LOG=warn "$BIN" gateway --supergraph schema/supergraph.graphql --listen 127.0.0.1:4005 \
  --config "$CACHED_CONFIG" >"$work/gateway-cached.log" 2>&1 &
cached_pid=$!
pids+=($cached_pid)

NODE_ENV=production SUPERGRAPH=schema/supergraph.graphql PORT=4010 node bench/peers/apollo-gateway.mjs \
  >"$work/apollo.log" 2>&1 &
apollo_pid=$!
pids+=($apollo_pid)

wait_until "gateway :4000" "$ours_pid" "$work/gateway.log" health 4000 || exit 1
wait_until "gateway :4006 (dedup off)" "$nodedup_pid" "$work/gateway-nodedup.log" health 4006 || exit 1
wait_until "gateway :4007 (batching)" "$batched_pid" "$work/gateway-batched.log" health 4007 || exit 1
if ! wait_until "cached gateway :4005 (--config $CACHED_CONFIG)" "$cached_pid" \
    "$work/gateway-cached.log" health 4005; then
  cached_skip="the gateway did not start with \`--config $CACHED_CONFIG\`: $(grep -m 1 -v '^\s*$' "$work/gateway-cached.log" | cut -c1-400)"
  log "skipping scenario 3: $cached_skip"
  kill "$cached_pid" 2>/dev/null || true
fi
wait_until "Apollo Gateway :4010" "$apollo_pid" "$work/apollo.log" apollo_ready || exit 1
log "all services up (logs in $work)"

# --- measurement helpers -------------------------------------------------------
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { # PID...: utime + stime of the processes, in clock ticks
  local total=0 pid fields
  for pid in "$@"; do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat") # drop "pid (comm) " so fields start at state (3)
    total=$(( total + $(echo "$fields" | awk '{ print $12 + $13 }') ))
  done
  echo "$total"
}
peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
sql_statements() { # sum of every sql_statements_total sample over the three subgraphs
  local port
  for port in 4001 4002 4003; do curl -sf "http://127.0.0.1:$port/metrics"; echo; done |
    awk '/^sql_statements_total[{ ]/ { sum += $NF } END { printf "%.0f\n", sum }'
}

raw="$work/runs.txt"
: >"$raw"
# run KEY GATEWAY_PID URL SCRIPT [BODY]: warm-up, then one counted wrk run.
run() {
  local key=$1 gw_pid=$2 url=$3 script=$4 body=${5:-}
  local gw0=0 gw1=0 sub0 sub1 sql0 sql1 out line rss=
  log "$key: warm-up $WARMUP, then $DURATION at $CONNECTIONS connections -> $url"
  BODY=$body wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout "$WRK_TIMEOUT" \
    -s "$script" "$url" >"$work/$key.warmup.txt"
  [ -n "$gw_pid" ] && gw0=$(cpu_ticks "$gw_pid")
  sub0=$(cpu_ticks "${subgraph_pid[@]}")
  sql0=$(sql_statements)
  BODY=$body wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$WRK_TIMEOUT" \
    -s "$script" "$url" >"$work/$key.txt"
  sql1=$(sql_statements)
  sub1=$(cpu_ticks "${subgraph_pid[@]}")
  [ -n "$gw_pid" ] && { gw1=$(cpu_ticks "$gw_pid"); rss=$(peak_rss_kb "$gw_pid"); }
  line=$(grep '^BENCH ' "$work/$key.txt") || { cat "$work/$key.txt" >&2; die "$key: wrk printed no BENCH line"; }
  out="RUN key=$key ${line#BENCH } sql=$((sql1 - sql0)) sub_cpu_s=$(awk -v t=$((sub1 - sub0)) -v c="$clk_tck" 'BEGIN { print t / c }')"
  [ -n "$gw_pid" ] && out="$out gw_cpu_s=$(awk -v t=$((gw1 - gw0)) -v c="$clk_tck" 'BEGIN { print t / c }') gw_rss_kb=$rss"
  echo "$out" >>"$raw"
  log "  $(echo "$line" | awk '{ print $4, $5, $7, $9, $10, $11 }')"
}

# --- answers: Apollo and the cached gateway must answer as ours does -----------
ONE='{"query":"{ user(id: \"7\") { id name email } }"}'
NESTED='{"query":"{ users(first: 50) { edges { node { id name orders { edges { node { id totalCents items { sku quantity } notifications { title read } } } } unreadNotificationCount } } } }"}'
READ='{"query":"query($id: ID!) { user(id: $id) { name orders(first: 5) { edges { node { id totalCents notifications { id read } } } } unreadNotificationCount } }","variables":{"id":"7"}}'
check() { # NAME BODY PORT...: compares each port's answer with the first one's
  local name=$1 body=$2 first=$3 port; shift 3
  post "$first" "$body" >"$work/answer-$name-$first.json"
  for port in "$@"; do
    post "$port" "$body" >"$work/answer-$name-$port.json"
    echo "CHECK name=$name base=$first other=$port $(python3 bench/report.py --compare \
      "$work/answer-$name-$first.json" "$work/answer-$name-$port.json")" >>"$raw"
  done
}
others=(4010 4006 4007); [ -z "$cached_skip" ] && others+=(4005)
check one "$ONE" 4000 "${others[@]}"
check nested "$NESTED" 4000 "${others[@]}"
check read "$READ" 4000 "${others[@]}"
grep '^CHECK' "$raw" | sed 's/^/[bench]   /' >&2

# --- scenarios -----------------------------------------------------------------
run s1_direct ""            http://127.0.0.1:4001/graphql bench/graphql.lua "$ONE"
run s1_ours   "$ours_pid"   http://127.0.0.1:4000/graphql bench/graphql.lua "$ONE"
run s1_nodedup "$nodedup_pid" http://127.0.0.1:4006/graphql bench/graphql.lua "$ONE"
run s1_apollo "$apollo_pid" http://127.0.0.1:4010/graphql bench/graphql.lua "$ONE"
run s2_ours   "$ours_pid"   http://127.0.0.1:4000/graphql bench/graphql.lua "$NESTED"
run s2_nodedup "$nodedup_pid" http://127.0.0.1:4006/graphql bench/graphql.lua "$NESTED"
run s2_batched "$batched_pid" http://127.0.0.1:4007/graphql bench/graphql.lua "$NESTED"
run s2_apollo "$apollo_pid" http://127.0.0.1:4010/graphql bench/graphql.lua "$NESTED"
if [ -z "$cached_skip" ]; then
  run s3_cached "$cached_pid" http://127.0.0.1:4005/graphql bench/graphql.lua "$NESTED"
else
  echo "SKIP key=s3_cached reason=$cached_skip" >>"$raw"
fi
# Last, as its mutations add orders and flip notifications.
run s4_ours   "$ours_pid"   http://127.0.0.1:4000/graphql bench/mix.lua
run s4_batched "$batched_pid" http://127.0.0.1:4007/graphql bench/mix.lua
[ -z "$cached_skip" ] && run s4_cached "$cached_pid" http://127.0.0.1:4005/graphql bench/mix.lua
run s4_apollo "$apollo_pid" http://127.0.0.1:4010/graphql bench/mix.lua

# --- report --------------------------------------------------------------------
dirty=
git diff --quiet HEAD -- . ':(exclude)bench/RESULTS.md' 2>/dev/null || dirty=+dirty
BENCH_DATE=$(date -u) \
BENCH_CORES=$(nproc) \
BENCH_MEMORY=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) \
BENCH_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) \
BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$dirty" \
BENCH_BIN=$BIN \
BENCH_BATCH_WINDOW_US=$BATCH_WINDOW_US \
BENCH_DURATION=$DURATION BENCH_CONNECTIONS=$CONNECTIONS BENCH_WARMUP=$WARMUP \
BENCH_THREADS=$THREADS BENCH_TIMEOUT=$WRK_TIMEOUT \
BENCH_COMMAND=$command_line \
BENCH_APOLLO_LOG=$(grep -E '^\[apollo-gateway\] (warn|error)' "$work/apollo.log" | head -n 5 | cut -c1-300) \
BENCH_WRK=$(wrk --version 2>&1 | head -n 1 | awk '{ print $2 }') \
BENCH_NODE=$(node --version) \
BENCH_APOLLO="@apollo/gateway $(node -p 'require("./bench/peers/node_modules/@apollo/gateway/package.json").version'), @apollo/server $(node -p 'require("./bench/peers/node_modules/@apollo/server/package.json").version')" \
  python3 bench/report.py "$raw" "$RESULTS" >"$work/RESULTS.md"
mv "$work/RESULTS.md" "$RESULTS"
log "wrote $RESULTS"
