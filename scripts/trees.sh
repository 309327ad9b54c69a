#!/usr/bin/env bash
# The build trees the scripts share, each named once with its directory and
# cmake arguments (sourced by scripts/test.sh and scripts/fuzz.sh):
#   optimized  build/       RelWithDebInfo, everything: the README's test command
#   address    build-asan/  clang 16, AddressSanitizer + UndefinedBehaviorSanitizer,
#                           clang's thread-safety analysis as errors, and the
#                           libFuzzer target (the libraries it fuzzes carry
#                           libFuzzer's coverage instrumentation and libstdc++'s
#                           bounds checks in the tests too): CI's ASan pass and
#                           its fuzzing share one compile
#   thread     build-tsan/  ThreadSanitizer, the tests whose processes run threads
# cascade_tree NAME sets tree_dir and tree_args.

cascade_tree() {
  case "$1" in
    optimized)
      tree_dir=build
      tree_args=(-DCASCADE_BUILD_TESTS=ON) ;;
    address)
      tree_dir=build-asan
      tree_args=(-DCASCADE_SANITIZE=address,undefined -DCMAKE_CXX_COMPILER=clang++-16
                 "-DCMAKE_CXX_FLAGS=-Wthread-safety -Wthread-safety-beta -Werror=thread-safety"
                 -DCASCADE_BUILD_TESTS=ON -DCASCADE_BUILD_FUZZERS=ON
                 -DCASCADE_BUILD_BENCHMARKS=OFF) ;;
    thread)
      tree_dir=build-tsan
      tree_args=(-DCASCADE_SANITIZE=thread -DCASCADE_BUILD_TESTS=ON
                 -DCASCADE_BUILD_BENCHMARKS=OFF -DCASCADE_BUILD_EXAMPLES=OFF) ;;
    *)
      echo "cascade_tree: no tree named '$1' (optimized, address, thread)" >&2
      return 2 ;;
  esac
}
