#!/usr/bin/env bash
# Checks the locking at compile time: compiles every object file of the
# library, cascade-server, the tests and the benchmarks with clang 16 and
# -Wthread-safety -Wthread-safety-beta -Werror=thread-safety, in build-tsa/.
#   ./scripts/thread_safety.sh
# CI does not run it: its AddressSanitizer pass (scripts/test.sh) compiles with
# the same flags, so it is the same analysis of everything but the benchmarks.
# A guarded member touched without its lock, a call to a function that
# requires a lock its caller does not hold, or two locks taken against their
# declared order (ABSL_ACQUIRED_AFTER / BEFORE; -Wthread-safety-beta is what
# checks those) fails the build. The annotations are on base/mutex.h and
# engine/util/shared_mutex.h; docs/architecture.md ("Locking") lists the locks.
# A compile check only: nothing is linked (the link adds nothing to the
# analysis) and nothing runs; no optimization and no debug information, with
# NDEBUG as in the other builds, so the same code is seen as the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh

build_dir=build-tsa
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
generator=(-G Ninja)
[[ -f "$build_dir/CMakeCache.txt" ]] && generator=()
cmake -S . -B "$build_dir" "${generator[@]}" \
  -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-DNDEBUG \
  "-DCMAKE_CXX_FLAGS=-Wthread-safety -Wthread-safety-beta -Werror=thread-safety" \
  -DCASCADE_BUILD_TESTS=ON -DCASCADE_BUILD_BENCHMARKS=ON -DCASCADE_BUILD_SERVER=ON \
  -DCASCADE_BUILD_EXAMPLES=OFF -DCASCADE_BUILD_FUZZERS=OFF \
  >/dev/null

# Every object file, and nothing else: `ninja -t targets all` prints
# "path: rule" for every output of the build.
mapfile -t objects < <(ninja -C "$build_dir" -t targets all | sed -n 's/^\(.*\.o\): .*/\1/p')
((${#objects[@]})) || { echo "thread_safety: no object files in $build_dir"; exit 1; }
# -k 0: report every file that fails, not only the first.
ninja -C "$build_dir" -k 0 -j "$(nproc)" "${objects[@]}"
echo "thread_safety: ${#objects[@]} object files compile clean under -Werror=thread-safety"
