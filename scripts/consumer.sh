#!/usr/bin/env bash
# Checks that Cascade can be used from outside, as a library (CI runs it after
# the smoke test):
#   1. builds the library alone in build-install/ (no tests, benchmarks,
#      server or examples) and installs it into a temporary prefix;
#   2. builds examples/consumer/ (find_package(cascade CONFIG REQUIRED), the
#      quickstart) against that prefix, and against the build tree, and runs it;
#   3. compiles and runs the quickstart through pkg-config (cascade.pc);
#   4. configures a parent project that add_subdirectory()s Cascade, with no
#      build type, checks that Cascade added only its library (no tests,
#      benchmarks, server, examples or install rules) and set no build type,
#      then builds and runs the parent's quickstart.
# Prints "consumer: ok" at the end; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
source scripts/deps.sh
export CCACHE_BASEDIR="$repo" CCACHE_NOHASHDIR=1
jobs=${CASCADE_JOBS:-$(nproc)}
build_dir=build-install
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
fail() { echo "consumer: FAIL: $*" >&2; exit 1; }
# quiet COMMAND...: runs it, shows its output only if it fails.
quiet() {
  local status=0
  "$@" >"$work/log" 2>&1 || status=$?
  ((status == 0)) || { cat "$work/log"; fail "exit status $status: $*"; }
}

# 1. The library alone, installed.
echo "consumer: building the library in $build_dir/"
quiet cmake -S . -B "$build_dir" "${generator[@]}" -DCASCADE_BUILD_TESTS=OFF \
  -DCASCADE_BUILD_BENCHMARKS=OFF -DCASCADE_BUILD_SERVER=OFF -DCASCADE_BUILD_EXAMPLES=OFF \
  -DCASCADE_BUILD_FUZZERS=OFF -DCASCADE_SANITIZE=
cmake --build "$build_dir" --parallel "$jobs"
quiet cmake --install "$build_dir" --prefix "$prefix"
config=$(find "$prefix" -name cascadeConfig.cmake)
pc=$(find "$prefix" -name cascade.pc)
[[ -n "$config" && -n "$pc" && -f "$prefix/include/cascade/cascade.h" \
   && -f "$prefix/include/cascade/testing/engine_test.h" ]] \
  || fail "the install lacks the config, the .pc file or the headers"
echo "consumer: installed into $prefix: ${config#"$prefix"/}, ${pc#"$prefix"/}"

# 2. An outside CMake project, against the prefix, then against the build tree.
run_quickstart() {  # NAME BINARY
  local status=0
  "$2" >"$work/out" 2>&1 || status=$?
  ((status == 0)) || { cat "$work/out"; fail "$1: the quickstart exited with status $status"; }
  echo "consumer: $1: the quickstart ran ($(wc -l <"$work/out") lines, exit status 0)"
}
quiet cmake -S examples/consumer -B "$work/consumer" "${generator[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix"
quiet cmake --build "$work/consumer" --parallel "$jobs"
run_quickstart "find_package (install prefix)" "$work/consumer/quickstart"

quiet cmake -S examples/consumer -B "$work/consumer-tree" "${generator[@]}" \
  -Dcascade_DIR="$repo/$build_dir"
quiet cmake --build "$work/consumer-tree" --parallel "$jobs"
run_quickstart "find_package (build tree)" "$work/consumer-tree/quickstart"

# 3. pkg-config: libcascade.a is static, hence --static.
flags=$(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs --static cascade) \
  || fail "pkg-config cascade"
# shellcheck disable=SC2086  # the flags are words
g++ -std=c++20 examples/quickstart.cc -o "$work/quickstart-pc" $flags \
  || fail "pkg-config: the quickstart did not compile or link with: $flags"
run_quickstart "pkg-config" "$work/quickstart-pc"

# 4. A parent project that add_subdirectory()s Cascade.
mkdir -p "$work/parent"
cat >"$work/parent/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(parent LANGUAGES CXX)
add_subdirectory("$repo" cascade)
add_executable(app "$repo/examples/quickstart.cc")
target_link_libraries(app PRIVATE cascade::cascade)
CMAKE
launcher=()  # the parent's own choice; Cascade sets none under a parent
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
quiet env -u CMAKE_BUILD_TYPE \
  cmake -S "$work/parent" -B "$work/parent-build" "${generator[@]}" "${launcher[@]}"
cache=$work/parent-build/CMakeCache.txt
for option in CASCADE_BUILD_TESTS CASCADE_BUILD_BENCHMARKS CASCADE_BUILD_SERVER \
              CASCADE_BUILD_EXAMPLES CASCADE_BUILD_FUZZERS CASCADE_INSTALL; do
  grep -q "^$option:BOOL=OFF$" "$cache" || fail "add_subdirectory: $option is not OFF"
done
grep -q '^CMAKE_BUILD_TYPE:STRING=$' "$cache" \
  || fail "add_subdirectory: Cascade set the parent's build type ($(grep '^CMAKE_BUILD_TYPE:' "$cache"))"
targets=$(cmake --build "$work/parent-build" --target help)
grep -Eq '(^|\.\.\. )cascade(:|$)' <<<"$targets" || fail "add_subdirectory: no cascade target"
if grep -E 'cascade_(test|bench)|_test\b|cascade-server|api_fuzzer|_example\b' <<<"$targets"; then
  fail "add_subdirectory: Cascade added the targets above"
fi
quiet cmake --build "$work/parent-build" --parallel "$jobs"
run_quickstart "add_subdirectory" "$work/parent-build/app"
echo "consumer: add_subdirectory: only the library was added (no tests, benchmarks, server," \
  "examples, install rules or build type)"

echo "consumer: ok"
