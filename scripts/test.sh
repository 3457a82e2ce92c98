#!/usr/bin/env bash
# The whole test suite: installs what is missing, checks formatting, builds
# and runs every test, then builds again with ASan + UBSan and runs every test
# there too. Exits non-zero on the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${CUSTOPS_TEST_JOBS:-2}"

"$ROOT/scripts/setup.sh" --deps-only
echo "==> clang-format check"
"$ROOT/scripts/format.sh" --check

# build/ is the Release build (scripts/setup.sh says why).
"$ROOT/scripts/setup.sh"
echo "==> tests (Release)"
ctest --test-dir build --output-on-failure -j "$JOBS" --timeout 600
echo "==> benchmarks start"
build/bench/replay_bench --customers=500 --benchmark_min_time=0.01 >/dev/null

"$ROOT/scripts/setup.sh" --sanitize
echo "==> tests (ASan + UBSan)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure -j "$JOBS" --timeout 900

echo "==> all tests passed (Release and sanitized builds)"
