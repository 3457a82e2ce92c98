#!/usr/bin/env bash
# Builds the ops console (web/, docs/console.md) into a directory custops
# serves with --console-dir (default build/console, which custops finds next
# to build/services/custops/custops by itself).
#
#   scripts/build-web.sh                 # -> build/console
#   scripts/build-web.sh /tmp/console    # -> /tmp/console
#
# Needs Node >= 18 and npm. Dependencies come from web/package-lock.json
# (`npm ci`), installed only when web/node_modules is missing or the lockfile
# changed since the last install. Every output file also gets a gzip copy
# (name.gz) that custops sends to clients accepting gzip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"
OUT="${1:-$ROOT/build/console}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

command -v node >/dev/null || { echo "build-web.sh: node not found (Node >= 18 needed)" >&2; exit 1; }
command -v npm >/dev/null || { echo "build-web.sh: npm not found" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 18 )); then
  echo "build-web.sh: Node $(node -v) is too old (>= 18 needed)" >&2
  exit 1
fi

cd "$WEB"
# npm ci only when needed: node_modules missing, or the lockfile differs from
# the one it was installed from (npm keeps a copy in node_modules/.package-lock.json
# but rewrites it; we keep our own stamp).
stamp="node_modules/.custops-lock-sha256"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -d node_modules || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
  echo "==> npm ci (web/)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

echo "==> vite build -> $OUT"
mkdir -p "$OUT"
npx --no-install vite build --outDir "$OUT" --emptyOutDir --logLevel warn

# Precompressed copies (gzip -9, no name or time stamp: reproducible).
find "$OUT" -type f \( -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' -o -name '*.json' \) \
  -exec gzip -9 -n -k -f {} +

total=0 gz=0
while IFS= read -r f; do
  total=$((total + $(stat -c %s "$f")))
  if [[ -f "$f.gz" ]]; then gz=$((gz + $(stat -c %s "$f.gz"))); else gz=$((gz + $(stat -c %s "$f"))); fi
done < <(find "$OUT" -type f ! -name '*.gz')
echo "==> console built: $OUT ($total bytes, $gz gzip)"
