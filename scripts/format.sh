#!/usr/bin/env bash
# clang-format (Google style, 100 columns; see .clang-format) over our sources.
#   scripts/format.sh          # rewrite files in place
#   scripts/format.sh --check  # fail if any file is not formatted
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mapfile -t files < <(git ls-files -- '*.cc' '*.h' 2>/dev/null || true)
if [[ ${#files[@]} -eq 0 ]]; then
  mapfile -t files < <(find libs services tools tests bench examples -name '*.cc' -o -name '*.h' 2>/dev/null)
fi
if [[ "${1:-}" == "--check" ]]; then
  clang-format --dry-run -Werror "${files[@]}"
  echo "formatting ok (${#files[@]} files)"
else
  clang-format -i "${files[@]}"
fi
