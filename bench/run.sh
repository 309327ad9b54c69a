#!/usr/bin/env bash
# Runs the contract §12 benchmark suite and regenerates docs/benchmarks.md and its
# chart, docs/benchmarks.png:
#   1. installs what is missing (scripts/deps.sh, and gnuplot-nox for the
#      chart; without gnuplot the page is written with no chart);
#   2. builds Release in build-bench/ (CASCADE_BENCH_BUILD_DIR);
#   3. runs the programs with JSON output:
#        cascade_bench             5 repetitions in a random interleaving (the
#                                  repetitions of all its benchmarks shuffled, so
#                                  the engine, its floor and its SQLite peer are
#                                  sampled over the same minutes of a noisy
#                                  machine), aggregates only;
#        cascade_durability_bench  3 repetitions, likewise (it takes a minute or
#                                  more: every FULL commit waits for the disk);
#        cascade_store_bench       3 repetitions, only when asked for (below);
#        cascade_event_stream_bench  once (its benchmarks fix their own
#                                  iterations and pair each with its baseline;
#                                  about 30 s, 1,000 loopback connections);
#        cascade_postgres_bench    3 repetitions in a random interleaving,
#                                  against a throwaway PostgreSQL cluster
#                                  that this script starts in the build
#                                  directory (scripts/pg_cluster.sh) and
#                                  stops on exit (about 1.5 minutes);
#        bench/http_benchmark.py   cascade-server over HTTP (in memory and
#                                  with a data directory) beside the HTTP
#                                  floor (cascade_http_floor) and
#                                  nexrender-server (npm ci of
#                                  bench/nexrender_peer into the build
#                                  directory), all loaded by wrk: 2 runs of
#                                  10 s per server and call, interleaved
#                                  (about 3 minutes);
#   4. bench/report.py writes the page from the JSON (all of it: the prose
#      comes from bench/report/*.md) and prints a summary of the §12 rows.
#      It does not read cascade_event_stream_bench's JSON yet: those figures
#      are in the program's output and bench/report/event_stream.md.
#
#   bench/run.sh [cascade_bench flags...]
#
# Flags given here come after the defaults, so they win; they go to
# cascade_bench only. A whole run takes several minutes and loads both cores:
# while developing, filter, and write the page elsewhere:
#   CASCADE_BENCH_PROGRAMS=engine CASCADE_BENCH_PAGE=/tmp/benchmarks.md \
#       bench/run.sh --benchmark_filter='Cancel|Floor' --benchmark_repetitions=1
# Environment:
#   CASCADE_BENCH_PROGRAMS          which programs to run, of "engine durability
#                                   store events postgres http" (default:
#                                   "engine durability events postgres
#                                   http"); the page shows "not measured" for
#                                   the rest
#   CASCADE_DURABILITY_BENCH_FLAGS  extra flags for cascade_durability_bench
#                                   (word-split; e.g. "--benchmark_filter=
#                                   Durable|PerCall|Floor")
#   CASCADE_STORE_BENCH_FLAGS       extra flags for cascade_store_bench
#   CASCADE_EVENTS_BENCH_FLAGS      extra flags for cascade_event_stream_bench
#   CASCADE_POSTGRES_BENCH_FLAGS    extra flags for cascade_postgres_bench
#   CASCADE_HTTP_BENCH_FLAGS        extra flags for bench/http_benchmark.py
#                                   (e.g. "--seconds 5 --runs 1")
#   CASCADE_BENCH_JSON              default build-bench/cascade_bench.json
#   CASCADE_DURABILITY_BENCH_JSON   default
#                                   build-bench/cascade_durability_bench.json
#   CASCADE_STORE_BENCH_JSON        default build-bench/cascade_store_bench.json
#   CASCADE_EVENTS_BENCH_JSON       default
#                                   build-bench/cascade_event_stream_bench.json
#   CASCADE_POSTGRES_BENCH_JSON     default
#                                   build-bench/cascade_postgres_bench.json
#   CASCADE_HTTP_BENCH_JSON         default build-bench/cascade_http_bench.json
#   CASCADE_BENCH_PG_URL            a PostgreSQL server for cascade_postgres_bench
#                                   (a role that may create databases) instead
#                                   of the throwaway cluster
#   CASCADE_BENCH_BUILD_DIR         the build directory (default build-bench)
#   CASCADE_BENCH_PAGE              the page to write (default
#                                   docs/benchmarks.md); the chart goes beside
#                                   it, with .png for .md
#   CASCADE_BENCH_DIR               where the durable benchmarks and
#                                   cascade-server's data directory go
#                                   (default: the system temp directory); use
#                                   the disk you care about, not tmpfs
set -euo pipefail
cd "$(dirname "$0")/.."

# The command as given, with the knobs that were set, for the page.
command_line=""
for knob in CASCADE_BENCH_PROGRAMS CASCADE_DURABILITY_BENCH_FLAGS CASCADE_STORE_BENCH_FLAGS \
            CASCADE_EVENTS_BENCH_FLAGS CASCADE_POSTGRES_BENCH_FLAGS CASCADE_HTTP_BENCH_FLAGS \
            CASCADE_BENCH_JSON CASCADE_DURABILITY_BENCH_JSON CASCADE_STORE_BENCH_JSON \
            CASCADE_EVENTS_BENCH_JSON CASCADE_POSTGRES_BENCH_JSON CASCADE_HTTP_BENCH_JSON \
            CASCADE_BENCH_PAGE CASCADE_BENCH_DIR CASCADE_BENCH_BUILD_DIR; do
  if [[ -n "${!knob:-}" ]]; then command_line+="$knob=$(printf %q "${!knob}") "; fi
done
# Its password, if any, stays off the page.
if [[ -n "${CASCADE_BENCH_PG_URL:-}" ]]; then command_line+="CASCADE_BENCH_PG_URL=... "; fi
command_line+="bench/run.sh"
if (($#)); then command_line+=$(printf ' %q' "$@"); fi

build_dir=${CASCADE_BENCH_BUILD_DIR:-build-bench}
engine_out=${CASCADE_BENCH_JSON:-$build_dir/cascade_bench.json}
durability_out=${CASCADE_DURABILITY_BENCH_JSON:-$build_dir/cascade_durability_bench.json}
store_out=${CASCADE_STORE_BENCH_JSON:-$build_dir/cascade_store_bench.json}
events_out=${CASCADE_EVENTS_BENCH_JSON:-$build_dir/cascade_event_stream_bench.json}
postgres_out=${CASCADE_POSTGRES_BENCH_JSON:-$build_dir/cascade_postgres_bench.json}
http_out=${CASCADE_HTTP_BENCH_JSON:-$build_dir/cascade_http_bench.json}
page=${CASCADE_BENCH_PAGE:-docs/benchmarks.md}
programs=" ${CASCADE_BENCH_PROGRAMS:-engine durability events postgres http} "
read -r -a durability_flags <<<"${CASCADE_DURABILITY_BENCH_FLAGS:-}"
read -r -a store_flags <<<"${CASCADE_STORE_BENCH_FLAGS:-}"
read -r -a events_flags <<<"${CASCADE_EVENTS_BENCH_FLAGS:-}"
read -r -a postgres_flags <<<"${CASCADE_POSTGRES_BENCH_FLAGS:-}"
read -r -a http_flags <<<"${CASCADE_HTTP_BENCH_FLAGS:-}"
wants() { [[ "$programs" == *" $1 "* ]]; }

source scripts/deps.sh
cascade_install_missing gnuplot-nox ||
  echo "bench/run.sh: gnuplot-nox could not be installed; the page will have no chart" >&2
if wants http; then
  cascade_install_missing wrk ||
    echo "bench/run.sh: wrk could not be installed; the HTTP benchmark will fail" >&2
fi

scripts/build.sh "$build_dir" -DCASCADE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
# After the build, which loads the machine itself: what else is running.
read -r load1 load5 load15 _ </proc/loadavg
load_avg="$load1 $load5 $load15 (after the build)"

report_args=()
# run_program NAME JSON FLAGS...: runs build-bench/bench/NAME with JSON output
# and hands the JSON and the command line to the report.
run_program() {
  local name=$1 json=$2
  shift 2
  mkdir -p "$(dirname "$json")"
  local cmd=("$build_dir/bench/$name" "$@" --benchmark_out="$json" --benchmark_out_format=json)
  echo "+ ${cmd[*]}"
  "${cmd[@]}"
  local line
  line=$(printf '%q ' "${cmd[@]}")
  report_args+=(--ran "${line% }")
}
if wants engine; then
  run_program cascade_bench "$engine_out" \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "$@"
  report_args+=(--engine "$engine_out")
fi
if wants durability; then
  run_program cascade_durability_bench "$durability_out" \
    --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "${durability_flags[@]}"
  report_args+=(--durability "$durability_out")
fi
if wants store; then
  run_program cascade_store_bench "$store_out" \
    --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "${store_flags[@]}"
  report_args+=(--store "$store_out")
fi
if wants events; then
  # Its report_args entry is the command line only: report.py has no reader
  # for this JSON yet.
  run_program cascade_event_stream_bench "$events_out" "${events_flags[@]}"
fi
if wants postgres; then
  if [[ -z "${CASCADE_BENCH_PG_URL:-}" ]]; then
    # A cluster of its own, in the build directory (the disk the other
    # durable benchmarks are told about is CASCADE_BENCH_DIR's; the program
    # names the file system of PostgreSQL's data directory).
    pg_dir="$(realpath "$build_dir")/pg-cluster"
    trap 'scripts/pg_cluster.sh stop "$pg_dir"' EXIT
    CASCADE_BENCH_PG_URL=$(scripts/pg_cluster.sh start "$pg_dir")
    export CASCADE_BENCH_PG_URL
  fi
  run_program cascade_postgres_bench "$postgres_out" \
    --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true "${postgres_flags[@]}"
  report_args+=(--postgres "$postgres_out")
fi
if wants http; then
  cmd=(python3 bench/http_benchmark.py --build-dir "$build_dir" --out "$http_out"
       "${http_flags[@]}")
  echo "+ ${cmd[*]}"
  # A failed run (a server that would not start, non-2xx answers) still
  # writes its JSON, with what it measured: the page shows the rest as not
  # measured or as errors.
  "${cmd[@]}" || echo "bench/run.sh: the HTTP benchmark reported a failure (above)" >&2
  line=$(printf '%q ' "${cmd[@]}")
  report_args+=(--ran "${line% }" --http "$http_out")
fi

python3 bench/report.py "${report_args[@]}" --out "$page" --build-dir "$build_dir" \
  --command "$command_line" --load-avg "$load_avg"
