#!/usr/bin/env bash
# Builds the libFuzzer target for cascade-server's request handler with clang
# (ASan + UBSan, in build-asan/, the tree of CASCADE_SANITIZE=address,undefined
# ./scripts/test.sh: scripts/trees.sh) and fuzzes it for a bounded time.
#   ./scripts/fuzz.sh                       # 60 s
#   CASCADE_FUZZ_SECONDS=600 ./scripts/fuzz.sh
#   ./scripts/fuzz.sh -jobs=2 -workers=2    # extra arguments go to libFuzzer
# First every file of fuzz/regressions/ runs once (inputs that once failed and
# were fixed). The seed corpus fuzz/corpus/api/ is read, never written: new
# inputs go to a temporary corpus, and a failing input is kept in
# build-asan/artifacts/. Exits non-zero on any crash, leak, timeout or
# violation of the harness's checks (fuzz/api_fuzzer.cc). docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
source scripts/trees.sh

seconds=${CASCADE_FUZZ_SECONDS:-60}
cascade_tree address
build_dir=$tree_dir
scripts/build.sh "$build_dir" "${tree_args[@]}" -- api_fuzzer

fuzzer=$build_dir/fuzz/api_fuzzer
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# -detect_leaks=0: the engine keeps what inputs create, which libFuzzer's
# per-input leak check would scan the whole heap for after nearly every input
# (4x slower); LeakSanitizer still checks the process at exit.
flags=(-dict=fuzz/api.dict -max_len=16384 -rss_limit_mb=2048 -timeout=10 -detect_leaks=0
       -print_final_stats=1)

shopt -s nullglob
regressions=(fuzz/regressions/*)
if ((${#regressions[@]})); then
  echo "== fuzz: ${#regressions[@]} regression inputs"
  "$fuzzer" "${flags[@]}" "${regressions[@]}"
fi

corpus=$(mktemp -d "${TMPDIR:-/tmp}/cascade-fuzz-corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$build_dir/artifacts"
echo "== fuzz: api_fuzzer for ${seconds} s"
"$fuzzer" "${flags[@]}" -max_total_time="$seconds" -artifact_prefix="$build_dir/artifacts/" \
  "$@" "$corpus" fuzz/corpus/api
