#!/usr/bin/env bash
# custops' lifecycle projection against the same job as a Kafka Streams
# application (bench/peers/kstreams), same topic, same run (budget,
# docs/benchmarks.md: custops at least 10x the peer's events per CPU second).
#
# Starts a fresh broker (deploy/kafka/kafka.sh), fills custops.customer-events.v1
# once through a custops ingest process with ingest_load (the bench population),
# then, per round, from offset 0 to caught up on that topic:
#   custops  --roles lifecycle,admin, fresh data dir; caught up = every partition
#            applied to its end, the tick after it announced, the outbox published
#            (Admin.Status through custopsctl, every 0.5 s)
#   the peer for each entry of PEER_CONFIGS, fresh application.id and state dir;
#            it stops itself once it has consumed up to the end offsets it saw
#            at start and ticked once after
# and prints CPU seconds (utime + stime of the process, JVM included), wall time,
# events per CPU second, peak RSS, the stage changes each derived, and the ratio.
#
#   bench/vs_kstreams.sh [build dir] [events]      # default: build 500000
#   ROUNDS=3 bench/vs_kstreams.sh                  # alternate the order each round
#   PEER_CONFIGS="alos:processing.guarantee=at_least_once eos-xmx512m:processing.guarantee=exactly_once_v2,xmx=512m" \
#     bench/vs_kstreams.sh
#   PEER_JAVA_OPTS="-Xms256m -Xmx1g" bench/vs_kstreams.sh   # JVM flags of every peer run
#   CHECK_IDS=0 bench/vs_kstreams.sh               # skip comparing change ids (round 1)
#   KEEP=1 bench/vs_kstreams.sh                    # keep the scratch dir
#
# PEER_CONFIGS: space-separated NAME:SETTING,SETTING,... where a SETTING is a
# Kafka Streams property (NAME=VALUE), xmx=SIZE (the JVM's -Xmx), mode=count
# (the "count per key" baseline instead of the lifecycle job), or the peer's
# peer.store.caching=false / peer.store.logging=false (no record cache / no
# changelog topics on its stores). Needs java 17, maven (Maven Central), protoc
# 3.21, jq, python3, bc, and the build's custops, ingest_load and custopsctl.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
EVENTS=${2:-500000}
ROUNDS=${ROUNDS:-1}
DEFAULT_CONFIGS="alos:processing.guarantee=at_least_once
  eos:processing.guarantee=exactly_once_v2
  alos-cache64m:processing.guarantee=at_least_once,statestore.cache.max.bytes=67108864
  alos-nolog:processing.guarantee=at_least_once,peer.store.logging=false
  count:mode=count"
PEER_CONFIGS=$(echo ${PEER_CONFIGS:-$DEFAULT_CONFIGS})   # one line, single spaces
PEER_JAVA_OPTS=${PEER_JAVA_OPTS:-"-Xms256m -Xmx1g"}
CHECK_IDS=${CHECK_IDS:-1}
WORK=$(mktemp -d /tmp/custops-vs-kstreams.XXXXXX)
KAFKA="$ROOT/deploy/kafka/kafka.sh"
M2="${CUSTOPS_KAFKA_HOME:-$HOME/.cache/custops/kafka}/m2"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$KAFKA" stop --dir "$WORK/kafka" >/dev/null 2>&1 || true
  [[ -n ${KEEP:-} ]] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "vs_kstreams: $*" >&2; }
for tool in java mvn protoc jq python3 bc; do
  command -v "$tool" >/dev/null || { log "needs $tool"; exit 1; }
done

# The binaries are copied first: a rebuild of the tree during the run changes nothing.
mkdir -p "$WORK/bin"
cp "$BUILD/services/custops/custops" "$BUILD/bench/ingest_load" \
  "$BUILD/tools/custopsctl/custopsctl" "$WORK/bin/"
CUSTOPS=$WORK/bin/custops CTL=$WORK/bin/custopsctl

log "building the peer (mvn package into $WORK/peer)"
mvn -q -B -Dstyle.color=never -f "$ROOT/bench/peers/kstreams/pom.xml" -Dmaven.repo.local="$M2" \
  -Dpeer.build.dir="$WORK/peer" package 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
PEER_CP="$WORK/peer/classes:$(cat "$WORK/peer/classpath.txt")"
java_quiet=(-Dorg.slf4j.simpleLogger.defaultLogLevel=warn)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
cpu_of() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }   # USER_HZ 100
rss_peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

B=$("$KAFKA" start --fresh --dir "$WORK/kafka" | tail -1)
KAFKA_LIBS=$("$KAFKA" fetch)
topics() {
  # shellcheck disable=SC2068
  java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$WORK/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.TopicCommand --bootstrap-server "$B" $@
}
# custops.state-changes.v1 and custops.dead-letter.v1 empty before each custops run:
# a custops instance reads what is on them to index the ids it must not append twice.
clear_outputs() {
  topics --delete --if-exists --topic 'custops\.(state-changes|dead-letter)\.v1' >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    topics --list 2>/dev/null | grep -Eq '^custops\.(state-changes|dead-letter)\.v1$' || return 0
    sleep 0.2
  done
  log "the output topics were not deleted"; exit 1
}

# --- Fill the topic once. ingest_load wants a lifecycle projection on its target,
# so the filling process runs one; its outputs are deleted after.
FILL=127.0.0.1:$(port)
nice -n 10 "$CUSTOPS" --kafka-bootstrap "$B" --metrics-listen "" --sync false \
  --roles ingest,lifecycle,admin --listen "$FILL" --data-dir "$WORK/fill" \
  >"$WORK/fill.log" 2>&1 & fill_pid=$!; pids+=($fill_pid)
for _ in $(seq 1 200); do "$CTL" --server "$FILL" --timeout 2 status >/dev/null 2>&1 && break; sleep 0.3; done
log "filling custops.customer-events.v1 with $EVENTS events"
nice -n 10 "$WORK/bin/ingest_load" --server "$FILL" --events "$EVENTS" --seconds 3600 \
  --streams 4 --batch 500 --seed 1 --id-prefix vsk- >"$WORK/fill_load.out" 2>&1 \
  || { cat "$WORK/fill_load.out" >&2; exit 1; }
grep -E "^(prepared|appended)" "$WORK/fill_load.out" | sed 's/^/  fill: /' >&2
stop_pid "$fill_pid"
clear_outputs

results=$WORK/results.tsv   # round, name, events, wall_s, cpu_s, rss_kb, changes
: >"$results"

run_custops() {
  local round=$1 listen dir pid t0 line
  clear_outputs
  listen=127.0.0.1:$(port) dir=$WORK/custops-r$round
  t0=$(now)
  nice -n 10 "$CUSTOPS" --kafka-bootstrap "$B" --metrics-listen "" --sync false \
    --roles lifecycle,admin --listen "$listen" --data-dir "$dir" >"$dir.log" 2>&1 & pid=$!
  pids+=($pid)
  # Done: every partition owned, restored and applied to its end, nothing left in the
  # outbox, and the change count unmoved for 1.5 s (the tick after the catch-up has
  # run: ticks come every second once nothing is behind). The figures are those of
  # the first poll of that steady state.
  local since="" since_cpu="" since_rss="" since_changes="" events=0 changes=0
  while true; do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$dir.log" >&2; log "custops exited"; exit 1; }
    sleep 0.5
    line=$("$CTL" --server "$listen" --timeout 5 status -o json 2>/dev/null | jq -r '
      ([.projections[]? | select(.name == "lifecycle")][0]) as $p
      | ($p.partitions // []) as $ps
      | [($ps | length),
         ([$ps[] | select((.owned // false) and ((.restoring // false) | not)
             and (((.applied_offset // "0") | tonumber) >= ((.log_end // "0") | tonumber)))] | length),
         (($p.outbox_pending // "0") | tonumber), (($p.changes_emitted // "0") | tonumber),
         ([$ps[] | ((.log_end // "0") | tonumber)] | add // 0)] | @tsv' 2>/dev/null) || line=""
    local t cpu parts caught outbox
    t=$(now) cpu=$(cpu_of "$pid")
    read -r parts caught outbox changes events <<<"${line:-0 0 0 0 0}"
    if [[ $parts -gt 0 && $caught == "$parts" && $outbox == 0 ]]; then
      if [[ -n $since && $changes == "$since_changes" ]]; then
        if (($(echo "$t - $since >= 1.5" | bc))); then break; fi
      else
        since=$t since_cpu=$cpu since_rss=$(rss_peak_kb "$pid") since_changes=$changes
      fi
    else
      since=""
    fi
  done
  stop_pid "$pid"
  printf '%s\tcustops\t%s\t%.2f\t%s\t%s\t%s\n' "$round" "$events" \
    "$(echo "$since - $t0" | bc)" "$since_cpu" "$since_rss" "$since_changes" >>"$results"
  log "round $round custops: $events events, $(echo "$since - $t0" | bc | xargs printf '%.1f') s," \
    "$since_cpu CPU s, $since_changes changes"
}

run_peer() {
  local round=$1 config=$2 name settings app state jopts mode=lifecycle out t0 line
  name=${config%%:*} settings=${config#*:}
  [[ $settings == "$config" ]] && settings=""
  app=vsk-$name-r$round-$RANDOM state=$WORK/peer-state/$app out=$WORK/$app.out
  jopts=($PEER_JAVA_OPTS)
  local args=(--bootstrap "$B" --app-id "$app" --state-dir "$state")
  local s
  IFS=, read -r -a s <<<"$settings"
  for kv in "${s[@]}"; do
    case "$kv" in
      xmx=*) jopts+=("-Xmx${kv#xmx=}") ;;
      mode=*) mode=${kv#mode=} ;;
      "") ;;
      *) args+=(--prop "$kv") ;;
    esac
  done
  args+=(--mode "$mode")
  mkdir -p "$state"
  t0=$(now)
  nice -n 10 java "${jopts[@]}" "${java_quiet[@]}" -cp "$PEER_CP" custops.peer.kstreams.Main \
    "${args[@]}" >"$out" 2>&1 || { tail -40 "$out" >&2; log "peer $name failed"; exit 1; }
  line=$(grep '^result ' "$out")
  val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  local wall cpu rss changes events
  wall=$(python3 -c "print(f'{$(val done_epoch_ms) / 1000 - $t0:.2f}')")
  cpu=$(val cpu_s) rss=$(val rss_peak_kb) events=$(val records)
  changes=$([[ $mode == count ]] && echo - || val changes)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$events" "$wall" "$cpu" "$rss" \
    "$changes" >>"$results"
  log "round $round peer $name: $events events, $wall s, $cpu CPU s, changes $changes" \
    "(java ${jopts[*]}; ${args[*]:6})"
  [[ $mode == lifecycle ]] && last_peer_topic="kstreams-peer.$app.changes"
  rm -rf "$state"
}

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
read -r -a configs <<<"$PEER_CONFIGS"
last_peer_topic=""
for round in $(seq 1 "$ROUNDS"); do
  # Odd rounds custops first, even rounds the peers first.
  if ((round % 2 == 1)); then
    run_custops "$round"
    for c in "${configs[@]}"; do run_peer "$round" "$c"; done
  else
    for c in "${configs[@]}"; do run_peer "$round" "$c"; done
    run_custops "$round"
  fi
  if [[ $round == 1 && $CHECK_IDS == 1 && -n $last_peer_topic ]]; then
    log "comparing change ids: custops.state-changes.v1 against $last_peer_topic"
    java "${java_quiet[@]}" -cp "$PEER_CP" custops.peer.kstreams.ChangeDiff "$B" \
      custops.state-changes.v1 "$last_peer_topic" | tee "$WORK/ids.txt" >&2
  fi
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$results" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
print()
print(f"{'round':>5}  {'job':<16} {'events':>9} {'wall s':>8} {'CPU s':>8} {'events/CPU-s':>13} {'RSS peak MiB':>12} {'stage changes':>13}")
by = {}
for r, name, events, wall, cpu, rss, changes in rows:
    rate = int(events) / float(cpu) if float(cpu) > 0 else 0
    by.setdefault(name, []).append((rate, changes))
    print(f"{r:>5}  {name:<16} {int(events):>9} {float(wall):>8.1f} {float(cpu):>8.2f} {rate:>13,.0f} {int(rss) / 1024:>12.0f} {changes:>13}")
print()
base = statistics.median(x[0] for x in by["custops"])
custops_changes = {x[1] for x in by["custops"]}
print(f"median events per CPU second (ratio custops / peer), over {len(by['custops'])} round(s):")
for name, runs in by.items():
    med = statistics.median(x[0] for x in runs)
    ratio = "" if name == "custops" else f"   ratio {base / med:.1f}x"
    note = ""
    if name != "custops" and runs[0][1] != "-":
        peer_changes = {x[1] for x in runs}
        same = peer_changes == custops_changes
        note = (f"   stage changes {'/'.join(sorted(peer_changes))} vs custops "
                f"{'/'.join(sorted(custops_changes))}: {'same' if same else 'DIFFER'}")
    print(f"  {name:<16} {med:>10,.0f}{ratio}{note}")
EOF
echo "load average at end: $load_end"
echo "reproduce: ROUNDS=$ROUNDS PEER_CONFIGS='$PEER_CONFIGS' PEER_JAVA_OPTS='$PEER_JAVA_OPTS' bash bench/vs_kstreams.sh $BUILD $EVENTS"
