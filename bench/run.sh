#!/usr/bin/env bash
# Builds the benchmark programs (Release, in build-bench/) and runs them with
# JSON output:
#   cascade_bench             each median (wall and CPU time) beside its SPEC
#                             §12 goal, the cancel / floor ratio, the claim +
#                             finish 2-thread / 1-thread throughput ratio, and
#                             the submit time with a sleeping event subscriber
#                             over the time with none;
#   cascade_store_bench       acknowledged store operations/s, group commit
#                             beside one transaction per call;
#   cascade_durability_bench  acknowledged engine transitions/s (Claim +
#                             Finish) over a data directory, group commit
#                             beside one transaction per call, at 1 and 8
#                             callers, per sync setting; the ratios, the
#                             50k/s and 10x goals, and the disk's fsync floor
#                             with the bound it puts on FULL.
#   bench/run.sh [cascade_bench flags...]
# Defaults: --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
# --benchmark_enable_random_interleaving=true (the repetitions of all the
# benchmarks run in a shuffled order, so the floor and the engine are sampled
# over the same minutes of a noisy machine); 3 repetitions for the two
# durability programs, which take a minute or more each. Flags given here
# come after the defaults, so they win; they go to cascade_bench only.
# Environment:
#   CASCADE_BENCH_PROGRAMS          which programs to run, of "engine store
#                                   durability" (default: all three)
#   CASCADE_STORE_BENCH_FLAGS       extra flags for cascade_store_bench
#   CASCADE_DURABILITY_BENCH_FLAGS  extra flags for cascade_durability_bench
#                                   (word-split; e.g. "--benchmark_filter=
#                                   Durable|PerCall|Floor")
#   CASCADE_BENCH_JSON              default build-bench/cascade_bench.json
#   CASCADE_STORE_BENCH_JSON        default build-bench/cascade_store_bench.json
#   CASCADE_DURABILITY_BENCH_JSON   default
#                                   build-bench/cascade_durability_bench.json
#   CASCADE_BENCH_DIR               where the store and durability programs
#                                   put their databases (default: the system
#                                   temp directory); use the disk you care
#                                   about, not tmpfs
# Needs only python3 besides the build (no jq).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build-bench
out=${CASCADE_BENCH_JSON:-$build_dir/cascade_bench.json}
store_out=${CASCADE_STORE_BENCH_JSON:-$build_dir/cascade_store_bench.json}
durability_out=${CASCADE_DURABILITY_BENCH_JSON:-$build_dir/cascade_durability_bench.json}
programs=" ${CASCADE_BENCH_PROGRAMS:-engine store durability} "
read -r -a store_flags <<<"${CASCADE_STORE_BENCH_FLAGS:-}"
read -r -a durability_flags <<<"${CASCADE_DURABILITY_BENCH_FLAGS:-}"
wants() { [[ "$programs" == *" $1 "* ]]; }

scripts/build.sh "$build_dir" -DCASCADE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
mkdir -p "$(dirname "$out")" "$(dirname "$store_out")" "$(dirname "$durability_out")"

if wants engine; then
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
fi

store_json=""
durability_json=""
if wants store; then
  "$build_dir/bench/cascade_store_bench" \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="$store_out" --benchmark_out_format=json "${store_flags[@]}"
  store_json=$store_out
fi
if wants durability; then
  "$build_dir/bench/cascade_durability_bench" \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_enable_random_interleaving=true \
    --benchmark_out="$durability_out" --benchmark_out_format=json "${durability_flags[@]}"
  durability_json=$durability_out
fi
[[ -n "$store_json$durability_json" ]] || exit 0

python3 - "$store_json" "$durability_json" <<'EOF'
import json
import sys

# SPEC §12: "durable (WAL, synchronous), 8 submitters: >= 50k acknowledged
# transitions/s; >= 10x one-transaction-per-call SQLite".
GOAL_RATE, GOAL_RATIO, GOAL_CALLERS = 50e3, 10.0, 8
SYNC = {1: "NORMAL", 2: "FULL"}
NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(path):
    """name -> {"sync", "threads", "append", "rate", "ns", counters...}: the
    median aggregate when there are repetitions, else the single run."""
    if not path:
        return {}, ""
    with open(path) as f:
        report = json.load(f)
    medians, singles = {}, {}
    for b in report["benchmarks"]:
        parts = b.get("run_name", b["name"]).split("/")
        args = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
        entry = dict(b)
        entry["base"] = parts[0]
        entry["sync"] = int(args["sync"]) if "sync" in args else None
        entry["threads"] = int(args.get("threads", 1))
        entry["append"] = int(args["append"]) if "append" in args else None
        entry["rate"] = b.get("items_per_second")
        entry["ns"] = b["real_time"] * NS[b["time_unit"]]
        key = (entry["base"], entry["sync"], entry["threads"], entry["append"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[key] = entry
        else:
            singles.setdefault(key, entry)
    kind = "median of repetitions" if medians else "single run"
    return {**singles, **medians}, f"{kind}; JSON in {path}"


def rate(figures, base, sync, threads):
    entry = figures.get((base, sync, threads, None))
    return entry["rate"] if entry else None


def show_rate(r):
    if r is None:
        return "-"
    return f"{r / 1e3:,.1f}k" if r >= 1e4 else f"{r:,.0f}"


def comparison(figures, title, group, per_call, unit, extra=None):
    """The table of group commit beside one transaction per call."""
    if not any(rate(figures, b, sync, threads) for b in (group, per_call)
               for sync in (1, 2) for threads in (1, 8)):
        return []
    print(f"\n{title}:")
    header = f"| {'sync':<6} | callers | {'group commit':>12} | {'per call':>10} | ratio  |"
    rule = f"|{'-' * 8}|---------|{'-' * 14}|{'-' * 12}|--------|"
    if extra:
        header += f" {extra[0]:>9} |"
        rule += f"{'-' * 11}|"
    print(header + f" goal ({unit}, {GOAL_CALLERS} callers)")
    print(rule + "-" * 36)
    verdicts = []
    for sync in (2, 1):
        for threads in (1, 8):
            g = rate(figures, group, sync, threads)
            p = rate(figures, per_call, sync, threads)
            if g is None and p is None:
                continue
            ratio = f"{g / p:5.1f}x" if g and p else "   -  "
            row = (f"| {SYNC[sync]:<6} | {threads:>7} | {show_rate(g):>12} | "
                   f"{show_rate(p):>10} | {ratio} |")
            if extra:
                row += f" {show_rate(extra[1](sync, threads)):>9} |"
            goal = ""
            if threads == GOAL_CALLERS:
                words = []
                if g is not None:
                    met = g >= GOAL_RATE
                    words.append(f">= 50k/s: {'met' if met else 'MISSED'}")
                    verdicts.append((SYNC[sync], "50k/s", met))
                if g and p:
                    met = g / p >= GOAL_RATIO
                    words.append(f">= 10x: {'met' if met else 'MISSED'}")
                    verdicts.append((SYNC[sync], "10x", met))
                goal = " " + "; ".join(words)
            print(row + goal)
    return verdicts


store, store_kind = load(sys.argv[1])
durable, durable_kind = load(sys.argv[2])

if store:
    comparison(store, f"Store alone, acknowledged operations/s (cascade_store_bench, {store_kind})",
               "BM_GroupCommit", "BM_PerCallCommit", "ops/s")
    for sync in (2, 1):
        entry = store.get(("BM_GroupCommit", sync, 8, None))
        if entry and "groups_per_commit" in entry:
            print(f"  BM_GroupCommit {SYNC[sync]}, 8 threads: "
                  f"{entry['groups_per_commit']:.2f} groups per commit")

if durable:
    def in_memory(sync, threads):
        return rate(durable, "BM_InMemoryTransitions", None, threads)

    verdicts = comparison(
        durable,
        f"Engine, durable acknowledged transitions/s, Claim + Finish "
        f"(cascade_durability_bench, {durable_kind})",
        "BM_DurableTransitions", "BM_PerCallTransitions", "transitions/s",
        extra=("in memory", in_memory))
    if verdicts:
        print("  (in memory: the same loop with no data directory, whatever the sync column "
              "says)")

    # CPU, from getrusage over each loop (the whole process).
    cpu_rows = [(base, sync, threads, durable[(base, sync, threads, None)])
                for base in ("BM_DurableTransitions", "BM_PerCallTransitions")
                for sync in (2, 1) for threads in (1, 8)
                if "cpu_cores" in durable.get((base, sync, threads, None), {})]
    if cpu_rows:
        print("\n  CPU over the loop (whole process; this machine's cores are shared with "
              "whatever else runs):")
        print(f"  | {'benchmark':<22} | {'sync':<6} | callers | cores | user us/tr | "
              f"sys us/tr | switches/tr |")
        for base, sync, threads, e in cpu_rows:
            print(f"  | {base[3:]:<22} | {SYNC[sync]:<6} | {threads:>7} | "
                  f"{e['cpu_cores']:5.2f} | {e['user_us_per_transition']:10.1f} | "
                  f"{e['sys_us_per_transition']:9.1f} | "
                  f"{e['switches_per_transition']:11.2f} |")

    observed = [(s, t, durable[("BM_DurableTransitionsObserved", s, t, None)])
                for s in (2, 1) for t in (1, 8)
                if ("BM_DurableTransitionsObserved", s, t, None) in durable]
    if observed:
        print("\n  Where a durable call's time goes (BM_DurableTransitionsObserved: the same "
              "engine and store,\n  timed around the store's calls and on its writer thread; "
              "us are means):")
        print("  | sync   | callers | transitions/s | groups/commit | commits/s | pre-Append | "
              "WaitDurable | wake-up | commit | commit CPU | pages/commit | checkpoints | "
              "writer gap | writer busy |")
        for sync, threads, e in observed:
            print(f"  | {SYNC[sync]:<6} | {threads:>7} | {show_rate(e['rate']):>13} | "
                  f"{e.get('groups_per_commit', 0):13.2f} | "
                  f"{e.get('commits_per_second', 0):9,.0f} | "
                  f"{e.get('pre_append_us', 0):10.1f} | {e.get('wait_us', 0):11.1f} | "
                  f"{e.get('wake_us', 0):7.1f} | "
                  f"{e.get('commit_us', 0):6.1f} | {e.get('commit_cpu_us', 0):10.1f} | "
                  f"{e.get('pages_per_commit', 0):12.2f} | "
                  f"{e.get('checkpoints', 0):4.0f} ({e.get('checkpoint_share', 0):4.0%}) | "
                  f"{e.get('writer_gap_us', 0):10.1f} | "
                  f"{e.get('writer_busy', 0):11.0%} |")
        print("  (per call: pre-Append = lock wait + engine work + JSON encoding; wake-up = the "
              "end of the commit\n  that covered the call to WaitDurable's return. Per commit: "
              "commit = BEGIN..COMMIT on the writer,\n  without checkpoints; writer gap = the "
              "end of a commit to the start of the next. Checkpoints:\n  count (share of wall "
              "time); writer busy = (commits + checkpoints) / wall.)")
        for sync, threads, e in observed:
            if sync == 2 and e.get("commit_us"):
                print(f"  FULL, {threads} caller{'s' if threads > 1 else ''}: one commit (its "
                      f"fsync) took {e['commit_us']:,.0f} us and carried "
                      f"{e['groups_per_commit']:.2f} groups: <= "
                      f"{show_rate(e['groups_per_commit'] * 1e6 / e['commit_us'])} "
                      f"transitions/s; measured {show_rate(e['rate'])}")

    floors = {e["append"]: e for (base, _, _, _), e in durable.items() if base == "BM_FloorFsync"}
    if floors:
        words = {0: "overwrite", 1: "append"}
        print("\n  The disk: 4 KiB pwrite + fdatasync, " + ", ".join(
            f"{words[a]} {floors[a]['ns'] / 1e3:,.0f} us" for a in sorted(floors)))
        # The log grows by appending until its first checkpoint (10,000 pages;
        # a FULL run rarely gets there), so its syncs are the append kind; a
        # log that has wrapped overwrites. Both bounds are shown.
        label = " .. ".join(words[a] for a in sorted(floors, reverse=True))
        for threads in (1, 8):
            bounds = " .. ".join(show_rate(threads * 1e9 / floors[a]["ns"])
                                 for a in sorted(floors, reverse=True))
            g = rate(durable, "BM_DurableTransitions", 2, threads)
            measured = f"; measured {show_rate(g)}" if g else ""
            print(f"  FULL, {threads} caller{'s' if threads > 1 else ''}: at most "
                  f"{threads} group{'s' if threads > 1 else ''} per fsync = "
                  f"<= {bounds} transitions/s ({label}){measured}")
        print(f"  50k/s under FULL with {GOAL_CALLERS} closed-loop callers needs an fsync of "
              f"<= {GOAL_CALLERS / GOAL_RATE * 1e6:.0f} us; and as the per-call peer pays one "
              f"fsync per call, FULL's ratio cannot pass ~{GOAL_CALLERS}x (< 10x) at "
              f"{GOAL_CALLERS} callers,\n  give or take how much the disk's latency moves "
              f"between the runs")

    if verdicts:
        print("\nSPEC §12 durable goals at 8 callers: " + ", ".join(
            f"{sync} {goal} {'met' if met else 'MISSED'}" for sync, goal, met in verdicts))
EOF
