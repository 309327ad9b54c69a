#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite: ctest's (the
# cascade CLI's end-to-end test among them), then tests/nexrender_v1,
# tests/browser (the dashboard in headless Chromium) and
# tests/ffmpeg_farm_test.sh.
#   ./scripts/test.sh                      # optimized build in build/
#   CASCADE_SANITIZE=address,undefined ./scripts/test.sh   # in build-asan/ (clang)
#   CASCADE_SANITIZE=thread ./scripts/test.sh              # in build-tsan/
# scripts/trees.sh says how each tree is configured.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
source scripts/trees.sh

sanitize=${CASCADE_SANITIZE:-}
case "$sanitize" in
  "") cascade_tree optimized ;;
  thread) cascade_tree thread ;;
  address,undefined) cascade_tree address ;;
  *) echo "test.sh: CASCADE_SANITIZE is empty, 'address,undefined' or 'thread', not '$sanitize'" >&2
     exit 2 ;;
esac
build_dir=$tree_dir
scripts/build.sh "$build_dir" "${tree_args[@]}"

# tests/ha_test.cc kills the leader 10 times in the optimized pass (contract
# §17); under a sanitizer 3 kills cover the takeover's code, and keep CI's
# three passes within its time. Likewise the reference model runs 10,000
# random sequences in the optimized pass and 2,000 under AddressSanitizer
# (where each costs ~20x); it runs on one thread, so the ThreadSanitizer tree
# leaves it out (CASCADE_ONE_THREAD_TESTS in tests/CMakeLists.txt).
if [[ -n "$sanitize" ]]; then
  export CASCADE_HA_CYCLES=${CASCADE_HA_CYCLES:-3}
  export CASCADE_MODEL_SEQUENCES=${CASCADE_MODEL_SEQUENCES:-2000}
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# One test per core at a time: the longest ones mostly wait (ha_test on
# takeovers, cli_e2e_test on its servers), and every test bounds its waits
# for the sanitizers' slowdown, well past what a neighbour costs it
# (ctest: 269 s -> 139 s optimized, 273 s -> 156 s under ThreadSanitizer).
# The PostgreSQL tests share one server and take turns (RESOURCE_LOCK in
# tests/CMakeLists.txt).
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error --timeout 1200 \
  --parallel "$(nproc)" ${CASCADE_CTEST_ARGS:-}

# The suites outside ctest, against this build's binaries: the real @nexrender/api
# client (npm) against cascade-server's /api/v1, the dashboard in Debian's
# Chromium through playwright-core (npm; its screenshot is left in
# $build_dir/artifacts/), and the ffmpeg farm example.
failed=()
tests/nexrender_v1/run.sh "$build_dir" || failed+=(nexrender_v1)
tests/browser/run.sh "$build_dir" || failed+=(browser)
tests/ffmpeg_farm_test.sh "$build_dir" || failed+=(ffmpeg_farm)
if ((${#failed[@]})); then
  echo "test.sh: ctest passed; FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all passed (ctest, nexrender_v1, browser, ffmpeg_farm) in $build_dir"
