#!/usr/bin/env bash
# Builds cascade_bench (Release, in build-bench/), runs it with JSON output and
# prints each median (wall and CPU time) beside its SPEC §12 goal, the
# cancel / floor ratio, the claim + finish 2-thread / 1-thread throughput
# ratio, and the submit time with a sleeping event subscriber over the time
# with none.
#   bench/run.sh [cascade_bench flags...]
# Defaults: --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
# --benchmark_enable_random_interleaving=true (the repetitions of all the
# benchmarks run in a shuffled order, so the floor and the engine are sampled
# over the same minutes of a noisy machine). Flags given here come after the
# defaults, so they win. The JSON goes to $CASCADE_BENCH_JSON (default
# build-bench/cascade_bench.json).
# Needs only python3 besides the build (no jq).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build-bench
out=${CASCADE_BENCH_JSON:-$build_dir/cascade_bench.json}

scripts/build.sh "$build_dir" -DCASCADE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
mkdir -p "$(dirname "$out")"
"$build_dir/bench/cascade_bench" \
  --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_enable_random_interleaving=true \
  --benchmark_out="$out" --benchmark_out_format=json "$@"

python3 - "$out" <<'EOF'
import json
import sys

NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Benchmark -> (goal in ns or None, goal as SPEC §12 words it).
GOALS = {
    "BM_FloorHashFindWrite1000": (None, "the floor"),
    "BM_CancelMany1000Leaves": (None, "<= 3x the floor"),
    "BM_SubmitBatch1000": (500e3, "<= 500 us"),
    "BM_SubmitBatch1000Subscribers/0": (None, "(events)"),
    "BM_SubmitBatch1000Subscribers/1": (None, "(events)"),
    "BM_Get": (150.0, "<= 150 ns"),
    "BM_BatchAggregate": (50.0, "<= 50 ns"),
    "BM_ClaimFinish/threads:1": (None, "1 thread"),
    "BM_ClaimFinish/threads:2": (None, ">= 1.6x 1 thread"),
    "BM_ClaimFinishSeparateEngines/threads:2": (None, "(2 engines)"),
    "BM_FloorCacheLineHandoff/threads:2": (None, "(sharing floor)"),
}
CLAIM_1, CLAIM_2 = "BM_ClaimFinish/threads:1", "BM_ClaimFinish/threads:2"

with open(sys.argv[1]) as f:
    report = json.load(f)

# One figure per benchmark (wall time, CPU time): the median aggregate when
# there are repetitions, else the single run. A benchmark run at several thread
# counts is named with its count ("BM_ClaimFinish/threads:2"), one run with
# several arguments with its argument ("BM_SubmitBatch1000Subscribers/1"). For
# the thread counts, wall time is the run's wall time over the cycles of all
# its threads (the inverse of their throughput), CPU time the CPU of all
# threads over the same cycles.
medians, singles = {}, {}
rates_median, rates_single = {}, {}
counters = {}  # name -> the benchmark's JSON entry (median when there is one)
for b in report["benchmarks"]:
    parts = b.get("run_name", b["name"]).split("/")
    name = "/".join([parts[0]] + [p for p in parts[1:]
                                  if p.startswith("threads:") or p.isdigit()])
    unit = NS[b["time_unit"]]
    times = (b["real_time"] * unit, b["cpu_time"] * unit)
    rate = b.get("items_per_second")
    if b.get("run_type") == "aggregate":
        if b.get("aggregate_name") == "median":
            medians[name] = times
            rates_median[name] = rate
            counters[name] = b
    else:
        singles.setdefault(name, times)
        rates_single.setdefault(name, rate)
        counters.setdefault(name, b)
figures = {**singles, **medians}
rates = {**rates_single, **rates_median}


def show(ns):
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.1f} ns"


def verdict(name, i):
    goal = GOALS[name][0]
    if goal is not None:
        return "met" if figures[name][i] <= goal else "MISSED"
    floor = figures.get("BM_FloorHashFindWrite1000")
    if name == "BM_CancelMany1000Leaves" and floor:
        return "met" if figures[name][i] <= 3 * floor[i] else "MISSED"
    # Throughput is judged on wall time only: the 2-thread CPU figure adds up
    # both threads' CPU, so it is no throughput.
    if name == CLAIM_2 and i == 0 and CLAIM_1 in figures:
        return "met" if figures[CLAIM_1][0] / figures[name][0] >= 1.6 else "MISSED"
    return ""


kind = "median of repetitions" if medians else "single run"
print(f"\nSPEC §12 goals ({kind}; JSON in {sys.argv[1]}):")
W = max(len(name) for name in GOALS)
print(f"| {'benchmark':<{W}} | {'wall':>10} | {'CPU':>10} | {'goal':<16} | wall    | CPU     |")
print(f"|{'-' * (W + 2)}|{'-' * 12}|{'-' * 12}|{'-' * 18}|---------|---------|")
for name, (goal, words) in GOALS.items():
    if name not in figures:
        continue
    wall, cpu = figures[name]
    print(f"| {name:<{W}} | {show(wall):>10} | {show(cpu):>10} | {words:<16} | "
          f"{verdict(name, 0):<7} | {verdict(name, 1):<7} |")

cancel = figures.get("BM_CancelMany1000Leaves")
floor = figures.get("BM_FloorHashFindWrite1000")
if cancel and floor:
    for i, what in enumerate(("wall", "CPU")):
        ratio = cancel[i] / floor[i]
        print(f"\nBM_CancelMany1000Leaves / BM_FloorHashFindWrite1000 ({what}) = "
              f"{show(cancel[i])} / {show(floor[i])} = {ratio:.2f}x "
              f"(goal <= 3x: {'met' if ratio <= 3 else 'MISSED'})", end="")
    print()
else:
    print("\n(cancel / floor ratio needs both BM_CancelMany1000Leaves and "
          "BM_FloorHashFindWrite1000 in the run)")

if rates.get(CLAIM_1) and rates.get(CLAIM_2):
    one, two = rates[CLAIM_1], rates[CLAIM_2]
    ratio = two / one
    print(f"\nBM_ClaimFinish throughput, 2 threads / 1 thread = {two / 1e6:.3f}M / "
          f"{one / 1e6:.3f}M cycles/s = {ratio:.2f}x "
          f"(goal >= 1.6x: {'met' if ratio >= 1.6 else 'MISSED'})")
    print(f"  (CPU per cycle, all threads: {show(figures[CLAIM_1][1])} at 1 thread, "
          f"{show(figures[CLAIM_2][1])} at 2; wall per cycle: {show(figures[CLAIM_1][0])}, "
          f"{show(figures[CLAIM_2][0])})")
else:
    print("\n(claim + finish ratio needs BM_ClaimFinish at 1 and at 2 threads in the run)")

SEPARATE = "BM_ClaimFinishSeparateEngines/threads:2"
if rates.get(CLAIM_1) and rates.get(SEPARATE):
    print(f"BM_ClaimFinishSeparateEngines (2 threads, an engine each) / 1 thread = "
          f"{rates[SEPARATE] / 1e6:.3f}M / {rates[CLAIM_1] / 1e6:.3f}M cycles/s = "
          f"{rates[SEPARATE] / rates[CLAIM_1]:.2f}x")
HANDOFF = "BM_FloorCacheLineHandoff/threads:2"
if HANDOFF in figures and CLAIM_1 in figures:
    handoff, cycle = figures[HANDOFF][0], figures[CLAIM_1][0]
    # Two threads claiming from one queue each take the queue's head from the
    # other at least once per cycle: one hand-off added to every cycle, even
    # if nothing else were shared and no lock were taken.
    bound = 2 * cycle / (cycle + handoff)
    print(f"Cache-line hand-off between the cores: {show(handoff)}; one per cycle added to a "
          f"{show(cycle)} cycle bounds 2 threads on one queue near {bound:.2f}x")

NO_SUB, SLEEPER = "BM_SubmitBatch1000Subscribers/0", "BM_SubmitBatch1000Subscribers/1"
if NO_SUB in figures and SLEEPER in figures:
    # SPEC §8: a slow subscriber never blocks the engine, so this should stay
    # near 1x (what building the events costs), however slow the callback.
    for i, what in enumerate(("wall", "CPU")):
        without, with_sleeper = figures[NO_SUB][i], figures[SLEEPER][i]
        print(f"\nSubmitBatch(1000) with a subscriber sleeping 1 ms per event / with none "
              f"({what}) = {show(with_sleeper)} / {show(without)} = "
              f"{with_sleeper / without:.2f}x", end="")
    print()
    sleeper = counters[SLEEPER]
    if "events_dropped" in sleeper:
        # One event per job created: a repetition publishes jobs_held events.
        print(f"  (by the end of a repetition's loop the sleeper had taken "
              f"{sleeper['events_delivered']:.0f} of the {sleeper['jobs_held']:.0f} events "
              f"published and dropped {sleeper['events_dropped']:.0f})")
else:
    print("\n(the subscriber ratio needs BM_SubmitBatch1000Subscribers/0 and /1 in the run)")
EOF
