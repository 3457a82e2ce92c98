#!/usr/bin/env bash
# The ops console's end-to-end test in a real browser (docs/console.md
# "Testing"): custops with the demo population on a fixed clock, token auth
# (HS256) and the built console, on loopback; an admin token and a token
# scoped to one region minted with custopsctl (the admin one also offered as
# the console's dev token); then console.test.mjs drives
# Chromium through every page with playwright-core.
#
#   run_console_test.sh <custops> <custopsctl> <console-dir> <artefacts-dir>
#
# Screenshots, the CSV export, results.json (figures: first-load bytes, the
# month × owner render time) and the server's output land in <artefacts-dir>.
# Exit 0 when every step passed, 1 on any failure (a missing Chromium too:
# scripts/setup.sh installs Debian's).
#
# Environment: CHROMIUM (default /usr/bin/chromium), CONSOLE_TEST_CLOCK
# (default 2025-06-20T04:00:00Z), CONSOLE_TEST_CUSTOMERS (demo size, default
# 3000), CONSOLE_TEST_REGION (default 华南), CONSOLE_TEST_DEMO: "server"
# (default: `custops --demo`, the demo loaded by the server itself) or "ctl"
# (`custopsctl demo --end <clock>` with an admin token after the start: the
# same population appended through EventIngest, with the organisation events
# — targets, spend, market sizes, review actions).
set -euo pipefail

if [[ $# -ne 4 ]]; then
  echo "usage: $0 <custops> <custopsctl> <console-dir> <artefacts-dir>" >&2
  exit 2
fi
CUSTOPS=$(realpath "$1") CTL=$(realpath "$2") CONSOLE=$(realpath "$3") ART=$4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CLOCK=${CONSOLE_TEST_CLOCK:-2025-06-20T04:00:00Z}
CUSTOMERS=${CONSOLE_TEST_CUSTOMERS:-3000}
REGION=${CONSOLE_TEST_REGION:-华南}
DEMO=${CONSOLE_TEST_DEMO:-server}
case $DEMO in server | ctl) ;; *) echo "CONSOLE_TEST_DEMO: server or ctl, not '$DEMO'" >&2; exit 2 ;; esac

if [[ ! -x $CHROMIUM ]]; then
  echo "no Chromium at $CHROMIUM: run scripts/setup.sh (it installs Debian's chromium)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "node not found" >&2; exit 1; }
[[ -f $CONSOLE/index.html ]] || { echo "no console in $CONSOLE: run scripts/build-web.sh" >&2; exit 1; }
[[ -d $ROOT/web/node_modules/playwright-core ]] ||
  { echo "web/node_modules/playwright-core missing: run scripts/build-web.sh" >&2; exit 1; }

mkdir -p "$ART"
ART=$(realpath "$ART")
rm -f "$ART"/*.png "$ART"/results.json "$ART"/review.csv
work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
GRPC_PORT=$(free_port)
HTTP_PORT=$(free_port)
while [[ $HTTP_PORT == "$GRPC_PORT" ]]; do HTTP_PORT=$(free_port); done

head -c 48 /dev/urandom | base64 >"$work/secret"
ADMIN_TOKEN=$("$CTL" token --secret-file "$work/secret" --sub console-admin --roles reader,admin --ttl 2h)
REGION_TOKEN=$("$CTL" token --secret-file "$work/secret" --sub console-region --roles reader --regions "$REGION" --ttl 2h)

# The console's "use the dev token" button offers the admin token (loopback only).
echo "$ADMIN_TOKEN" >"$work/dev-token"

demo_flags=()
[[ $DEMO == server ]] && demo_flags=(--demo --demo-customers "$CUSTOMERS")
"$CUSTOPS" --listen "127.0.0.1:$GRPC_PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
  --data-dir "$work/data" --sync false --fixed-clock "$CLOCK" "${demo_flags[@]}" \
  --jwt-hs256-secret-file "$work/secret" --console-dir "$CONSOLE" \
  --console-dev-token-file "$work/dev-token" \
  >"$ART/custops.out" 2>"$ART/custops.err" &
pid=$!

# The demo is loaded through the command services after the server listens;
# custops prints "ready." once it is in.
started=$(date +%s)
until grep -q '^ready\.' "$ART/custops.out" 2>/dev/null; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "custops exited early:"; cat "$ART/custops.out" "$ART/custops.err" >&2
    pid=
    exit 1
  fi
  if (( $(date +%s) - started > 600 )); then
    echo "custops did not finish loading the demo in 600 s" >&2
    tail -20 "$ART/custops.err" >&2
    exit 1
  fi
  sleep 0.5
done
for _ in $(seq 1 600); do
  code=$(node -e "fetch('http://127.0.0.1:$HTTP_PORT/readyz').then(r=>console.log(r.status),()=>console.log(0))")
  [[ $code == 200 ]] && break
  sleep 0.2
done
[[ $code == 200 ]] || { echo "/readyz never answered 200" >&2; exit 1; }
if [[ $DEMO == server ]]; then
  if grep -q 'demo data:' "$ART/custops.err"; then
    echo "custops --demo failed to load the demo population:" >&2
    grep 'demo data:' "$ART/custops.err" >&2
    exit 1
  fi
else
  "$CTL" --server "127.0.0.1:$GRPC_PORT" --bearer-token "$ADMIN_TOKEN" \
    demo --end "$CLOCK" --customers "$CUSTOMERS" >"$ART/custopsctl-demo.out" 2>&1 ||
    { echo "custopsctl demo failed:" >&2; cat "$ART/custopsctl-demo.out" >&2; exit 1; }
fi
echo "custops ready with the demo ($DEMO) after $(( $(date +%s) - started )) s"

status=0
CONSOLE_URL="http://127.0.0.1:$HTTP_PORT/" ADMIN_TOKEN=$ADMIN_TOKEN REGION_TOKEN=$REGION_TOKEN \
  REGION=$REGION FIXED_CLOCK=$CLOCK ARTEFACTS=$ART CHROMIUM=$CHROMIUM WEB_DIR="$ROOT/web" \
  node "$ROOT/tests/console/console.test.mjs" || status=$?

if ! kill -0 "$pid" 2>/dev/null; then
  echo "custops died during the test" >&2
  status=1
fi
exit $status
