#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs the all-in-one
# custops on the embedded log (data in ./data) with the demo population.
# Extra arguments go to custops (see `custops --help`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" --target custops --target custopsctl
cd "$ROOT"
exec "$ROOT/build/services/custops/custops" --demo "$@"
