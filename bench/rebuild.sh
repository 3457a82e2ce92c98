#!/usr/bin/env bash
# Admin.Rebuild beside serving (docs/operations.md "Rebuild"): an all-in-one
# server on the embedded log is filled with the synthetic population
# (bench/common/workload.h, through query_load), every projection catches
# up, then lifecycle, value and review are rebuilt at once with
# `custopsctl rebuild --wait` while query_load sends GetCustomer at a fixed
# rate. Prints the rebuild's wall time, the server's CPU seconds during it,
# records per CPU second, and the GetCustomer latency over the window.
#
#   bench/rebuild.sh [build dir] [customers]   # default: build 36000 (~500k events)
#   QPS=2000 bench/rebuild.sh                  # GetCustomer rate during the rebuild
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
CUSTOMERS=${2:-36000}
QPS=${QPS:-1000}
WORK=$(mktemp -d /tmp/custops-rebuild.XXXXXX)
CUSTOPS=$BUILD/services/custops/custops
CTL=$BUILD/tools/custopsctl/custopsctl
QUERY=$BUILD/bench/query_load
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ -n ${KEEP:-} ]] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
S=127.0.0.1:$port
"$CUSTOPS" --data-dir "$WORK/data" --listen "$S" --metrics-listen "" --sync false \
  >"$WORK/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do "$CTL" --server "$S" status >/dev/null 2>&1 && break; sleep 0.2; done

# Projections' total lag and whether a rebuild runs, from Admin.Status.
lag() {
  "$CTL" --server "$S" status --output json | python3 -c '
import json, sys
s = json.load(sys.stdin)
lag = sum(int(p.get("lag", 0)) for pr in s.get("projections", []) for p in pr.get("partitions", []))
running = any(pr.get("rebuild", {}).get("running") for pr in s.get("projections", []))
print(lag + (1 if running else 0))'
}
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }  # utime + stime, clock ticks
tick=$(getconf CLK_TCK)

echo "== filling: $CUSTOMERS customers"
"$QUERY" --server "$S" --customers "$CUSTOMERS" --id-prefix rb --qps 100 --seconds 1 \
  --warmup-seconds 0 --summary-seconds 0 | grep -E "^loaded|applied everything"
while [[ $(lag) != 0 ]]; do sleep 1; done
records=$("$CTL" --server "$S" status --output json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(int(p.get("log_end", p.get("logEnd", 0))) for t in s["topics"] if t["topic"] == "custops.customer-events.v1" for p in t["partitions"]))')
echo "== every projection has applied $records records; rebuilding all three at once"
# About as long as the slowest rebuild (review), so that the latency is
# measured while rebuilding; the summary says when it ended first.
seconds=${SECONDS_OF_QUERIES:-$((CUSTOMERS / 500 + 5))}
"$QUERY" --server "$S" --customers "$CUSTOMERS" --id-prefix rb --no-load --qps "$QPS" \
  --seconds "$seconds" \
  --warmup-seconds 0 --summary-seconds 0 >"$WORK/query.log" 2>&1 &
qpid=$!
sleep 2
cpu0=$(cpu)
t0=$(date +%s.%N)
rebuilds=()
for p in lifecycle value review; do
  "$CTL" --server "$S" rebuild "$p" --wait >"$WORK/$p.out" 2>/dev/null &
  rebuilds+=($!)
done
for r in "${rebuilds[@]}"; do wait "$r" || true; done
while [[ $(lag) != 0 ]]; do sleep 0.2; done
t1=$(date +%s.%N)
cpu1=$(cpu)
running=$(kill -0 $qpid 2>/dev/null && echo yes || echo no)
wait $qpid || true
cat "$WORK"/{lifecycle,value,review}.out
python3 - "$t0" "$t1" "$cpu0" "$cpu1" "$tick" "$records" "$running" <<'PY'
import sys
t0, t1, c0, c1, tick, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
wall = t1 - t0
cpu = (c1 - c0) / tick
print(f"rebuild of 3 projections x {n} records: {wall:.1f} s wall, {cpu:.1f} CPU s of the server "
      f"(serving included), {3 * n / cpu:,.0f} records per CPU second, {3 * n / wall:,.0f} per second")
if sys.argv[7] != "yes":
    print("note: query_load ended before the rebuild did: its window is shorter than the rebuild")
PY
grep -E "GetCustomer|latency" "$WORK/query.log"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "reproduce: bench/rebuild.sh $BUILD $CUSTOMERS  (QPS=$QPS)"
