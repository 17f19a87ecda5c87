#!/bin/bash
# Install what is needed, build, and run every test of prb. Run as root (apt-get, captures).
#   scripts/test.sh          the full test command (README, CI): well under 40 minutes on 2 cores
#   scripts/test.sh --long   also the long torture and fuzz runs
# Builds: build-gcc (gcc, warnings as errors: build only) and build-test (clang, ASan+UBSan,
# libFuzzer targets), where CTest runs everything, the Soft-RoCE VM tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
long=OFF
for arg in "$@"; do
	case "$arg" in
	--long) long=ON ;;
	*) echo "usage: $0 [--long]" >&2; exit 2 ;;
	esac
done

step() { printf '\n=== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "install dependencies"
scripts/install-deps.sh --rdma

jobs=$(nproc)
step "gcc build, warnings as errors"
cmake -S . -B build-gcc -DCMAKE_C_COMPILER=gcc -DPRB_WERROR=ON >/dev/null
cmake --build build-gcc -j"$jobs"

step "clang build with ASan+UBSan and fuzzers"
cmake -S . -B build-test -DCMAKE_C_COMPILER=clang -DPRB_WERROR=ON -DPRB_SANITIZE=ON \
	-DPRB_FUZZ=ON -DPRB_LONG_TESTS="$long" >/dev/null
cmake --build build-test -j"$jobs"

step "tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-test --output-on-failure --timeout 900 -j2
