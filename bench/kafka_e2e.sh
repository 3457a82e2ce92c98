#!/usr/bin/env bash
# Distributed mode on loopback Kafka: throughput, event -> query freshness,
# and moving partitions (restore speed). Starts a fresh broker, an ingest
# process and two lifecycle projection instances, runs kafka_e2e_load, then
# SIGKILLs the second instance and times until the first owns and has
# restored every partition (its log has the per-partition restore rates).
#
#   bench/kafka_e2e.sh [build dir] [events]     # default: build 200000
#   POLL_MS=20 bench/kafka_e2e.sh               # kafka.poll_interval_ms of every process
#   CUSTOPS_ARGS="--kafka-property linger.ms=5" bench/kafka_e2e.sh   # more flags for every process
#   INSTANCES=1 bench/kafka_e2e.sh              # one projection instance (no partition move)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
EVENTS=${2:-200000}
WORK=$(mktemp -d /tmp/custops-kafka-e2e.XXXXXX)
CUSTOPS=$BUILD/services/custops/custops
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$ROOT/deploy/kafka/kafka.sh" stop --dir "$WORK/kafka" >/dev/null 2>&1 || true
  [[ -n ${KEEP:-} ]] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

B=$("$ROOT/deploy/kafka/kafka.sh" start --fresh --dir "$WORK/kafka" | tail -1)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
I=127.0.0.1:$(port) P1=127.0.0.1:$(port) P2=127.0.0.1:$(port)
common=(--kafka-bootstrap "$B" --metrics-listen "" --sync false
        --kafka-poll-interval-ms "${POLL_MS:-100}")
read -r -a extra <<<"${CUSTOPS_ARGS:-}"
common+=("${extra[@]}")
"$CUSTOPS" "${common[@]}" --roles ingest,admin --listen "$I" --data-dir "$WORK/ingest" \
  >"$WORK/ingest.log" 2>&1 & pids+=($!)
"$CUSTOPS" "${common[@]}" --roles lifecycle,admin --listen "$P1" --data-dir "$WORK/p1" \
  >"$WORK/p1.log" 2>&1 & pids+=($!)
queries=$P1 cpu="broker=$(cat "$WORK/kafka/kafka.pid"),ingest=${pids[0]},p1=${pids[1]}"
if [[ ${INSTANCES:-2} != 1 ]]; then
  "$CUSTOPS" "${common[@]}" --roles lifecycle,admin --listen "$P2" --data-dir "$WORK/p2" \
    >"$WORK/p2.log" 2>&1 & p2=$!; pids+=($p2)
  queries="$P1,$P2" cpu="$cpu,p2=$p2"
fi
for _ in $(seq 1 200); do
  "$BUILD/bench/kafka_e2e_load" --ingest "$I" --query "$queries" --events 0 --samples 0 \
    >/dev/null 2>&1 && break
  sleep 0.3
done
"$BUILD/bench/kafka_e2e_load" --ingest "$I" --query "$queries" --events "$EVENTS" --cpu "$cpu"
[[ ${INSTANCES:-2} == 1 ]] && exit 0

echo "moving partitions: SIGKILL the second instance"
kill -9 "$p2"
t0=$(date +%s.%N)
until "$BUILD/bench/kafka_e2e_load" --ingest "$I" --query "$P1" --events 0 --samples 0 \
    >/dev/null 2>&1; do sleep 0.1; done
t1=$(date +%s.%N)
echo "all partitions owned and restored by the survivor $(echo "$t1 - $t0" | bc) s after the kill" \
  "(includes the ${SESSION_TIMEOUT:-6} s session timeout)"
grep -h "restored" "$WORK/p1.log" | sed 's/^.*partition/  partition/' | sort -t' ' -k4 -n | tail -n 12
