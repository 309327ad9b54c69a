#!/usr/bin/env bash
# Configures and builds one build tree, or only the named targets of it.
#   scripts/build.sh [BUILD_DIR] [extra cmake args...] [-- TARGET...]
# BUILD_DIR defaults to build/. Uses Ninja and ccache when present.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
# Let ccache hit across clones in other directories (CI builds a fresh clone).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
shift || true
cmake_args=() targets=()
while (($#)); do
  if [[ "$1" == -- ]]; then shift; targets=(--target "$@"); break; fi
  cmake_args+=("$1"); shift
done
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" >/dev/null
else
  cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
fi
cmake --build "$build_dir" --parallel "$(nproc)" "${targets[@]}"
