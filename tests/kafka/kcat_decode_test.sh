#!/usr/bin/env bash
# A Kafka client that is not ours reads custops.customer-events.v1 and decodes
# the values with the published schema (proto/custops/v1/events.proto):
# custops (Kafka mode, ingest role) appends a small demo history, then kcat
# (Debian's librdkafka CLI) fetches the last records of every partition raw
# and `protoc --decode custops.v1.Event` decodes each one. Checks: every
# value decodes, its customer_id is the record key, and the idempotency
# header carries the event_id (docs/kafka.md, the published contract).
#
#   kcat_decode_test.sh <custops> <custopsctl> <repo root>
# Broker: CUSTOPS_KAFKA_BOOTSTRAP or the file in CUSTOPS_KAFKA_BOOTSTRAP_FILE.
set -euo pipefail

CUSTOPS=$1 CTL=$2 ROOT=$3
TOPIC=custops.customer-events.v1
BOOTSTRAP=${CUSTOPS_KAFKA_BOOTSTRAP:-$(cat "${CUSTOPS_KAFKA_BOOTSTRAP_FILE:?no broker}")}
command -v kcat >/dev/null || { echo "kcat missing: apt-get install kcat (scripts/setup.sh)"; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$CUSTOPS" --kafka-bootstrap "$BOOTSTRAP" --roles ingest,admin --listen "127.0.0.1:$port" \
  --metrics-listen "" --data-dir "$work/ingest" --fixed-clock 2026-11-23T00:00:00Z \
  >"$work/custops.out" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  "$CTL" --server "127.0.0.1:$port" status >/dev/null 2>&1 && break
  sleep 0.2
done
"$CTL" --server "127.0.0.1:$port" demo --customers 30 --seed 99 --end 2026-11-23T00:00:00Z >/dev/null

decoded=0
for p in $(seq 0 11); do
  # The last three records of the partition: offset, key, headers.
  kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -p "$p" -o -3 -e -q -f '%o\t%k\t%h\n' >"$work/index" || true
  while IFS=$'\t' read -r offset key headers; do
    [[ -z $offset ]] && continue
    kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -p "$p" -o "$offset" -c 1 -e -q -f '%s' >"$work/value"
    protoc --proto_path="$ROOT/proto" --decode=custops.v1.Event custops/v1/events.proto \
      <"$work/value" >"$work/text"
    customer=$(sed -n 's/^customer_id: "\(.*\)"$/\1/p' "$work/text")
    event_id=$(sed -n 's/^event_id: "\(.*\)"$/\1/p' "$work/text")
    if [[ $customer != "$key" ]]; then
      echo "partition $p offset $offset: customer_id '$customer' is not the key '$key'"
      cat "$work/text"; exit 1
    fi
    if [[ $headers != *"custops-idempotency-key=$event_id"* ]]; then
      echo "partition $p offset $offset: header '$headers' does not carry event_id '$event_id'"
      exit 1
    fi
    if ! grep -q '^occurred_at {' "$work/text"; then
      echo "partition $p offset $offset: no occurred_at"; cat "$work/text"; exit 1
    fi
    decoded=$((decoded + 1))
  done <"$work/index"
done
echo "kcat + protoc decoded $decoded records of $TOPIC"
[[ $decoded -ge 12 ]] || { echo "expected at least 12 records"; exit 1; }
