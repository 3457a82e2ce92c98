#!/usr/bin/env bash
# Installs whatever is missing (Debian packages), then configures and builds.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#
#   scripts/setup.sh                      # build/ (Release with line tables: the binaries,
#                                         # tests and benchmarks)
#   scripts/setup.sh --sanitize           # build-asan/ (ASan + UBSan, no benchmarks)
#   scripts/setup.sh --release            # build-release/ (a plain Release build as a user
#                                         # makes it: no line tables, no tests)
#   scripts/setup.sh --deps-only          # install packages, build nothing
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$ROOT/build"
# Release (-O3) so the build the tests run is the one a user's
# `-DCMAKE_BUILD_TYPE=Release` makes, warnings as errors included; -g1 keeps
# profiles and backtraces readable (docs/operations.md "Builds").
CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DCUSTOPS_DEBUG_LINES=ON -DCUSTOPS_WERROR=ON)
DEPS_ONLY=0
RELEASE=0
TARGETS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) BUILD_DIR="$ROOT/build-asan"
                CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Debug -DCUSTOPS_WERROR=ON -DCUSTOPS_SANITIZE=ON
                            -DCUSTOPS_BUILD_BENCH=OFF) ;;
    --release) BUILD_DIR="$ROOT/build-release" RELEASE=1
               CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DCUSTOPS_WERROR=ON -DCUSTOPS_BUILD_TESTS=OFF
                           -DCUSTOPS_BUILD_BENCH=ON) ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --deps-only) DEPS_ONLY=1 ;;
    --target) TARGETS+=("$2"); shift ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates tzdata ccache
  clang-format
  librocksdb-dev libjemalloc-dev liblz4-dev libzstd-dev libsnappy-dev zlib1g-dev libbz2-dev
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  librdkafka-dev libcli11-dev libtomlplusplus-dev libspdlog-dev libfmt-dev
  libssl-dev libc-ares-dev libre2-dev libsqlite3-dev
  libjwt-dev libmicrohttpd-dev libgnutls28-dev openssl
  openjdk-17-jre-headless maven kcat
  chromium fonts-wqy-microhei
  curl python3
)
# The console (web/) builds with Node >= 18 and npm; the machine's own Node
# is used when there is one, else Debian's.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "==> installing: ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[[ $DEPS_ONLY -eq 1 ]] && exit 0

echo "==> building in ${BUILD_DIR#$ROOT/}"
# ccache makes a rebuild on the same machine cheap; a fresh machine starts cold.
# Paths are hashed relative to the checkout, so another clone on the same
# machine (CI's) reuses what this one compiled.
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  "${CMAKE_ARGS[@]}" >/dev/null
if [[ ${#TARGETS[@]} -gt 0 ]]; then
  cmake --build "$BUILD_DIR" --target "${TARGETS[@]}"
else
  cmake --build "$BUILD_DIR"
fi
# Benchmarks need neither the console nor the data sets.
[[ $RELEASE -eq 1 ]] && exit 0
# The ops console, beside the binary (custops finds $BUILD_DIR/console).
"$ROOT/scripts/build-web.sh" "$BUILD_DIR/console"
# The public data sets the tests replay (docs/import.md "Data sets").
"$ROOT/scripts/fetch-data.sh"
