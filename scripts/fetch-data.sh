#!/usr/bin/env bash
# Fetches the public data sets the tests and demos replay, as a user would:
# from a package registry, pinned by checksum (docs/import.md "Data sets").
#
#   scripts/fetch-data.sh            # into $CUSTOPS_DATA, default .cache/data
#
# - cdnow/: the CDNOW files the `lifetimes` library ships (its PyPI wheel,
#   Lifetimes 0.11.3, lifetimes/datasets/).
# - crm-sales-opportunities/: Maven Analytics' "CRM Sales Opportunities" is in
#   no package registry; copy its four CSV files there yourself (the tests
#   that need it skip and say so until then).
#
# Idempotent: a second run checks the files and downloads nothing. Exits 0
# when the registry cannot be reached (the tests then skip and say why).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${CUSTOPS_DATA:-$ROOT/.cache/data}"

WHEEL=Lifetimes-0.11.3-py3-none-any.whl
WHEEL_SHA256=261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8
INDEX="${PIP_INDEX_URL:-https://pypi.org/simple}"
CDNOW_FILES=(CDNOW_master.txt CDNOW_sample.txt cdnow_customers_summary.csv
  cdnow_customers_summary_with_transactions.csv)

have_cdnow() {
  for f in "${CDNOW_FILES[@]}"; do [[ -s "$DATA/cdnow/$f" ]] || return 1; done
  [[ -f "$DATA/cdnow/.source" ]] && grep -q "$WHEEL_SHA256" "$DATA/cdnow/.source"
}

if have_cdnow; then
  echo "==> data: cdnow present in ${DATA#$ROOT/}"
else
  echo "==> data: fetching $WHEEL from ${INDEX%/}/lifetimes/"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # The simple index lists the wheel with its address.
  url="$(curl -fsSL --retry 3 "${INDEX%/}/lifetimes/" |
    grep -o "href=\"[^\"]*$WHEEL[^\"]*\"" | head -1 | sed -e 's/^href="//' -e 's/"$//' \
      -e 's/#.*//')" || url=""
  if [[ -z "$url" ]]; then
    echo "fetch-data.sh: cannot reach ${INDEX%/}/lifetimes/; the CDNOW tests will skip" >&2
    exit 0
  fi
  case "$url" in http*) ;; *) url="${INDEX%/}/lifetimes/$url" ;; esac
  if ! curl -fsSL --retry 3 -o "$tmp/$WHEEL" "$url"; then
    echo "fetch-data.sh: download of $url failed; the CDNOW tests will skip" >&2
    exit 0
  fi
  echo "$WHEEL_SHA256  $tmp/$WHEEL" | sha256sum -c --quiet -
  mkdir -p "$DATA/cdnow"
  python3 - "$tmp/$WHEEL" "$DATA/cdnow" "${CDNOW_FILES[@]}" <<'EOF'
import pathlib, sys, zipfile
wheel, out, names = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        (out / name).write_bytes(z.read(f"lifetimes/datasets/{name}"))
EOF
  echo "$WHEEL sha256 $WHEEL_SHA256 from $url" >"$DATA/cdnow/.source"
  echo "==> data: cdnow in ${DATA#$ROOT/}/cdnow"
fi

if [[ ! -s "$DATA/crm-sales-opportunities/sales_pipeline.csv" ]]; then
  echo "==> data: crm-sales-opportunities not present (no registry ships it; copy accounts.csv," \
    "products.csv, sales_pipeline.csv and sales_teams.csv of Maven Analytics' CRM Sales" \
    "Opportunities into ${DATA}/crm-sales-opportunities to run the CRM cross-check)"
fi
