#!/usr/bin/env python3
# Copyright 2026 The Cascade Authors.
#
# File: bench/report.py
# -----------------------------------------------------------------------------
# Writes docs/benchmarks.md, whole, from the JSON output of the benchmark
# programs (Google Benchmark's --benchmark_out_format=json, and
# bench/http_benchmark.py's JSON, shaped alike), and its chart,
# docs/benchmarks.png, with gnuplot. bench/run.sh runs the programs and then
# this; run it by hand to regenerate the page from JSON already there:
#
#   python3 bench/report.py --engine build-bench/cascade_bench.json \
#       --durability build-bench/cascade_durability_bench.json \
#       --postgres build-bench/cascade_postgres_bench.json \
#       --http build-bench/cascade_http_bench.json
#
# What the page holds, in order: when and where the run was taken; the contract
# §12 table (a line per goal row of the contract's table, or per thread count,
# caller count or configuration a row is judged at: the engine beside its
# floor and its peers, the ratios and a verdict computed from them, each goal
# as the contract states it); the chart; the goals, met or MISSED; the
# durable sub-table; the PostgreSQL store's table; cascade-server over HTTP
# beside its floor, nexrender-server and SQLite's storage; cancel cost as
# family size grows; the secondary figures; the hand-written prose of
# bench/report/*.md, included verbatim in fixed places; every benchmark of
# the run.
#
# Figures are medians when the run has repetitions (Google Benchmark's median
# aggregate, or the median of the repetitions when only those are in the
# JSON), with the coefficient of variation beside them; a benchmark missing
# from the JSON shows "not measured", and so does every goal judged on it.
# Python 3 standard library only.

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Parts of a run name that say how Google Benchmark ran it, not what it ran:
# they are dropped, so "BM_ClaimFinish/iterations:200000/real_time/threads:1"
# is "BM_ClaimFinish/threads:1". Everything else (threads:N, plain numeric
# arguments, named key:value arguments) is kept.
_RUN_SETTING = re.compile(
    r"^(iterations:\d+|repeats:\d+|min_time:[0-9.]+s?|min_warmup_time:[0-9.]+s?"
    r"|real_time|manual_time|process_time)$")

# Keys of a benchmark entry that are not user counters.
_NOT_COUNTERS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
    "time_unit", "aggregate_name", "aggregate_unit", "error_occurred", "error_message",
    "label", "items_per_second", "bytes_per_second",
}


# The family-size benchmarks name their argument ("BM_CancelFamilySize/k:10");
# the page pairs them by the bare number.
_FAMILY_ARG = re.compile(r"^k:(\d+)$")


def normalise(run_name: str) -> str:
    parts = run_name.split("/")
    kept = [_FAMILY_ARG.sub(r"\1", p) for p in parts[1:] if not _RUN_SETTING.match(p)]
    return "/".join([parts[0]] + kept)


@dataclasses.dataclass
class Figure:
    """One benchmark's figures: medians over its repetitions (or its one run)."""
    name: str
    real_ns: float                       # wall time per iteration
    cpu_ns: float                        # CPU time per iteration
    rate: Optional[float] = None         # items_per_second
    counters: dict = dataclasses.field(default_factory=dict)
    cv: Optional[float] = None           # of wall time, a fraction; None with < 2 runs
    rate_cv: Optional[float] = None
    counter_cv: dict = dataclasses.field(default_factory=dict)
    repetitions: int = 1
    threads: int = 1


@dataclasses.dataclass
class Program:
    """One program's JSON: its context and its figures by normalised name."""
    path: str
    context: dict
    figures: dict                        # name -> Figure
    errors: dict                         # name -> error message


def _load_json(path: str) -> dict:
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Some versions print non-finite counters as bare nan / inf.
        text = re.sub(r"(?<=[:\s])-?(nan|inf)(?=[,\s}])", "NaN", text, flags=re.I)
        return json.loads(text)


def _median(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else None


def _cv(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if len(values) < 2 or statistics.mean(values) == 0:
        return None
    return statistics.stdev(values) / statistics.mean(values)


def _counters(entry: dict) -> dict:
    return {k: v for k, v in entry.items()
            if k not in _NOT_COUNTERS and isinstance(v, (int, float))}


def parse(report: dict, path: str = "") -> Program:
    runs, aggregates, errors = {}, {}, {}
    for b in report.get("benchmarks", []):
        name = normalise(b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            errors[name] = b.get("error_message", "error")
            continue
        if b.get("run_type") == "aggregate":
            aggregates.setdefault(name, {})[b.get("aggregate_name", "")] = b
        else:
            runs.setdefault(name, []).append(b)
    figures = {}
    for name in list(aggregates) + [n for n in runs if n not in aggregates]:
        agg = aggregates.get(name, {})
        if "median" in agg:
            m, cv = agg["median"], agg.get("cv")
            unit = NS_PER_UNIT[m["time_unit"]]
            figures[name] = Figure(
                name=name, real_ns=m["real_time"] * unit, cpu_ns=m["cpu_time"] * unit,
                rate=m.get("items_per_second"), counters=_counters(m),
                cv=cv["real_time"] if cv else None,
                rate_cv=cv.get("items_per_second") if cv else None,
                counter_cv=_counters(cv) if cv else {},
                repetitions=m.get("repetitions", 1), threads=m.get("threads", 1))
        elif name in runs:
            rs = runs[name]
            real = [r["real_time"] * NS_PER_UNIT[r["time_unit"]] for r in rs]
            cpu = [r["cpu_time"] * NS_PER_UNIT[r["time_unit"]] for r in rs]
            rates = [r.get("items_per_second") for r in rs]
            keys = set().union(*(_counters(r) for r in rs))
            figures[name] = Figure(
                name=name, real_ns=_median(real), cpu_ns=_median(cpu), rate=_median(rates),
                counters={k: _median([r.get(k) for r in rs]) for k in keys},
                cv=_cv(real), rate_cv=_cv(rates),
                counter_cv={k: _cv([r.get(k) for r in rs]) for k in keys},
                repetitions=len(rs), threads=rs[0].get("threads", 1))
        # An aggregate without a median (mean only, say) is not used.
    return Program(path=path, context=report.get("context", {}), figures=figures,
                   errors=errors)


def load(path: Optional[str]) -> Optional[Program]:
    if not path:
        return None
    return parse(_load_json(path), path)


# --- Formatting --------------------------------------------------------------

NOT_MEASURED = "not measured"


def fmt_time(ns: Optional[float]) -> str:
    if ns is None:
        return NOT_MEASURED
    if ns < 10:
        return f"{ns:.2f} ns"
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:,.1f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:,.2f} ms"
    return f"{ns / 1e9:,.2f} s"


def fmt_rate(r: Optional[float], unit: str = "/s") -> str:
    if r is None:
        return NOT_MEASURED
    if r >= 1e6:
        return f"{r / 1e6:.2f} M{unit}"
    if r >= 1e4:
        return f"{r / 1e3:,.1f} k{unit}"
    return f"{r:,.0f}{unit}"


def fmt_bytes(b: Optional[float]) -> str:
    return NOT_MEASURED if b is None else f"{b:,.0f} B"


def fmt_ratio(x: Optional[float]) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    return f"{x:.2f}×"


def fmt_percent(x: Optional[float]) -> str:
    # One decimal, so that a share just under its goal does not print as it.
    return "—" if x is None else f"{x * 100:.1f} %"


def fmt_cv(cv: Optional[float]) -> str:
    return "" if cv is None or math.isnan(cv) else f" ({cv * 100:.0f} %)"


def fmt_verdict(v: str) -> str:
    return "**MISSED**" if v == "MISSED" else v


# --- The contract §12 rows ---------------------------------------------------

@dataclasses.dataclass
class Goal:
    """One contract §12 goal and how a run is judged against it.

    kind:
      max_time     the engine's wall time <= limit ns
      min_rate     the engine's items_per_second >= limit
      max_bytes    the engine's bytes_per_job <= limit
      floor_ratio  engine / floor (cost) <= limit
      floor_share  the engine's items_per_second over the floor's >= limit
                   (a bound the engine can at best reach: callers ÷ one
                   fsync, an HTTP server that answers a fixed body)
      speedup_mem  SQLite in-memory / engine (cost) >= limit
      speedup_wal  the WAL column's peer / engine (cost) >= limit
      scaling      the engine's items_per_second over that of `base` >= limit
    """
    kind: str
    limit: float
    words: str          # as contract §12 says it
    short: str          # for the verdict cell and the chart
    base: str = ""      # scaling: the benchmark the engine is compared with
    percent: bool = False   # floor_share: shown as a percentage, not a ratio


@dataclasses.dataclass
class Row:
    """One line of the §12 table. `measure` says which figure is compared:
    "time" (wall time per iteration; lower is better), "rate"
    (items_per_second; higher is better) or "bytes" (the bytes_per_job
    counter; lower is better). Ratios are always of cost, so they read the
    same way on every line: engine / floor is how many times the floor's cost
    the engine's is; peer / engine how many times cheaper (faster, smaller)
    the engine is than the peer."""
    number: str
    operation: str      # contract §12's words
    measure: str
    engine: str
    floor: str
    mem: str
    wal: str
    goals: list
    chart_label: str
    # The peer the WAL column falls back on when `wal` is not in the run, and
    # the words that say so.
    wal_fallback: str = ""
    wal_fallback_note: str = ""
    # What the WAL column holds when it is not the SQLite peer, for the list
    # under the table.
    wal_note: str = ""
    # On the chart's speed-up panel (a speed-up over a peer means something).
    in_chart: bool = True
    # The chart's label says which peer the bar is over, when it is the WAL
    # column's.
    chart_peer: str = " (WAL)"


# The durable row (contract §12): FULL with 8 and 64 callers, NORMAL with 8.
DURABLE_CALLERS = 8
DURABLE_CALLER_COUNTS = (8, 64)


def fsync_bound(callers: int) -> str:
    """The name of the bound made up from BM_FloorFsync: `callers` closed-loop
    callers over one fsync, each commit carrying every waiting caller."""
    return f"fsync bound/callers:{callers}"


FSYNC_BOUND = fsync_bound(DURABLE_CALLERS)
# cascade_postgres_bench (contract §17): the goal is at 64 callers; 8 is shown
# beside it.
POSTGRES_CALLERS = (8, 64)
POSTGRES_GOAL_CALLERS = 64
POSTGRES_FLOOR = "BM_PostgresFloorCommit"


def postgres_bound(callers: int) -> str:
    """The name of the bound made up from BM_PostgresFloorCommit: `callers`
    closed-loop callers over one commit on one connection."""
    return f"postgres commit bound/callers:{callers}"


# bench/http_benchmark.py's benchmarks: HTTP_GetJob/server:NAME and
# HTTP_PostJob/server:NAME, NAME one of HTTP_SERVERS.
HTTP_CALLS = (("HTTP_GetJob", "GET /jobs/{id}"), ("HTTP_PostJob", "POST /jobs"))
HTTP_SERVERS = (("floor", "HTTP floor (Boost.Beast, fixed body)"),
                ("memory", "cascade-server, in memory"),
                ("full", "cascade-server, data directory (FULL)"),
                ("nexrender", "nexrender-server (its JSON-file database)"))
HTTP_NEXRENDER_NOTE = ("the open-source nexrender-server over HTTP, same client, same resident "
                       "jobs, measured by `bench/http_benchmark.py`")


def http_name(call: str, server: str) -> str:
    return f"{call}/server:{server}"


def _durable_rows() -> list:
    rows = []
    for sync, words, callers in ((2, "FULL", 8), (2, "FULL", 64), (1, "NORMAL", 8)):
        if sync == 2:
            first = Goal("floor_share", 0.9, "`synchronous=FULL`: ≥ 0.9 × (callers ÷ one fsync)",
                         "≥ 0.9× bound")
            floor = fsync_bound(callers)
        else:
            first = Goal("min_rate", 50e3, "`NORMAL`: ≥ 50k acknowledged transitions/s",
                         "≥ 50k/s")
            floor = ""
        rows.append(Row(
            "9", f"durable (WAL), {words}, {callers} callers", "rate",
            f"BM_DurableTransitions/sync:{sync}/threads:{callers}", floor, "",
            f"BM_SqliteWal_DurableTransitions/sync:{sync}/threads:{callers}",
            [first, Goal("speedup_wal", 10, "≥ 10× SQLite committing one transaction per call",
                         "≥ 10× per-call")],
            f"durable, {words}, {callers} callers",
            wal_fallback=f"BM_PerCallTransitions/sync:{sync}/threads:{callers}",
            wal_fallback_note="the SQLite peer was not in the run: the WAL column is the "
                              "engine over a store that commits one transaction per call "
                              "(`BM_PerCallTransitions`)"))
    return rows


def _http_rows() -> list:
    """Contract §12's HTTP row, four lines: each call in memory, judged against
    the HTTP floor (which stores nothing either), and with a data directory,
    judged against nexrender-server (which keeps its jobs in a file)."""
    rows = []
    for call, words in HTTP_CALLS:
        times = 10 if call == "HTTP_GetJob" else 100
        for server, where in (("memory", "in memory"), ("full", "data directory (FULL)")):
            if server == "memory":
                goal = Goal("floor_share", 0.7, "≥ 70 % of the HTTP floor (a minimal Boost.Beast "
                            "server answering a fixed body)", "≥ 70 % of floor", percent=True)
            else:
                goal = Goal("speedup_wal", times, f"≥ {times}× nexrender-server",
                            f"≥ {times}× nexrender")
            rows.append(Row(
                "10", f"HTTP {words}, {where}", "rate", http_name(call, server),
                http_name(call, "floor"), "", http_name(call, "nexrender"), [goal],
                f"HTTP {words.split()[0]}, {'FULL' if server == 'full' else 'memory'}",
                wal_note=HTTP_NEXRENDER_NOTE, in_chart=server == "full",
                chart_peer=" (vs nexrender)"))
    return rows


def spec_rows() -> list:
    """One line per goal row of contract §12's table, in its order and with
    its numbers; a row judged at several thread or caller counts has a line
    for each."""
    us, ns = 1e3, 1.0
    return [
        Row("1", "cancel 1000 leaf ids", "time", "BM_CancelMany1000Leaves",
            "BM_FloorHashFindWrite1000", "BM_SqliteMem_CancelMany1000Leaves",
            "BM_SqliteWal_CancelMany1000Leaves",
            [Goal("floor_ratio", 3, "≤ 3× the floor", "≤ 3× floor")], "cancel 1000 leaves"),
        Row("2", "cancel 1000 ids, families of 1+10 (11k jobs)", "time",
            "BM_CancelMany1000Families", "BM_FloorCancelFamilies",
            "BM_SqliteMem_CancelMany1000Families", "BM_SqliteWal_CancelMany1000Families",
            [Goal("speedup_mem", 30, "≥ 30× faster than SQLite in-memory", "≥ 30× SQLite"),
             Goal("floor_ratio", 5, "≤ 5× its floor", "≤ 5× floor")],
            "cancel 1000 families"),
        Row("3", "submit batch of 1000", "time", "BM_SubmitBatch1000", "BM_FloorSubmit1000",
            "BM_SqliteMem_SubmitBatch1000", "BM_SqliteWal_SubmitBatch1000",
            [Goal("speedup_mem", 10, "≥ 10× SQLite in-memory", "≥ 10× SQLite"),
             Goal("floor_ratio", 2, "≤ 2× its floor", "≤ 2× floor")], "submit batch 1000"),
        Row("4", "get by id", "time", "BM_Get", "BM_FloorGet", "BM_SqliteMem_Get",
            "BM_SqliteWal_Get",
            [Goal("floor_ratio", 3, "≤ 3× its floor (one hash lookup, one record read)",
                  "≤ 3× floor"),
             Goal("speedup_mem", 10, "≥ 10× SQLite", "≥ 10× SQLite")], "get by id"),
        Row("5", "batch aggregate read", "time", "BM_BatchAggregate", "BM_FloorAggregate",
            "BM_SqliteMem_BatchAggregate", "BM_SqliteWal_BatchAggregate",
            [Goal("max_time", 50 * ns, "≤ 50 ns", "≤ 50 ns"),
             Goal("speedup_mem", 100, "≥ 100× SQLite", "≥ 100× SQLite")], "batch aggregate"),
        Row("6", "claim + finish cycle, 1 thread", "rate", "BM_ClaimFinish/threads:1",
            "BM_FloorClaimFinish/threads:1", "BM_SqliteMem_ClaimFinish/threads:1",
            "BM_SqliteWal_ClaimFinish/threads:1",
            [Goal("speedup_mem", 20, "≥ 20× SQLite", "≥ 20× SQLite")], "claim+finish, 1 thread"),
        Row("6", "claim + finish cycle, 2 threads", "rate", "BM_ClaimFinish/threads:2",
            "BM_FloorClaimFinish/threads:2", "BM_SqliteMem_ClaimFinish/threads:2",
            "BM_SqliteWal_ClaimFinish/threads:2",
            [Goal("speedup_mem", 20, "≥ 20× SQLite", "≥ 20× SQLite"),
             Goal("scaling", 1.6, "2 threads ≥ 1.6× 1 thread", "≥ 1.6× 1 thread",
                  base="BM_ClaimFinish/threads:1")], "claim+finish, 2 threads"),
        Row("6", "claim + finish cycle, 8 threads", "rate", "BM_ClaimFinish/threads:8",
            "BM_FloorClaimFinish/threads:8", "BM_SqliteMem_ClaimFinish/threads:8",
            "BM_SqliteWal_ClaimFinish/threads:8",
            [Goal("scaling", 1.0, "8 threads never slower than 1 thread (no collapse under "
                  "contention)", "≥ 1× 1 thread", base="BM_ClaimFinish/threads:1")],
            "claim+finish, 8 threads"),
        Row("7", "list, state filter, limit 50", "time", "BM_List50", "BM_FloorList50",
            "BM_SqliteMem_List50", "BM_SqliteWal_List50",
            [Goal("max_time", 50 * us, "≤ 50 µs", "≤ 50 µs")], "list 50"),
        Row("8", "resident memory", "bytes", "BM_ResidentBytes", "BM_FloorResidentBytes",
            "BM_SqliteMem_ResidentBytes", "BM_SqliteWal_ResidentBytes",
            [Goal("max_bytes", 256, "≤ 256 bytes per job (short strings)", "≤ 256 B/job")],
            "memory per job"),
        *_durable_rows(),
        *_http_rows(),
        Row("11", f"PostgreSQL store (§17), {POSTGRES_GOAL_CALLERS} callers", "rate",
            f"BM_PostgresTransitions/threads:{POSTGRES_GOAL_CALLERS}",
            postgres_bound(POSTGRES_GOAL_CALLERS), "",
            f"BM_SqliteStoreTransitions/threads:{POSTGRES_GOAL_CALLERS}",
            [Goal("min_rate", 5e3, "≥ 5k acknowledged transitions/s with 64 callers on a "
                  "local PostgreSQL", "≥ 5k/s")], "PostgreSQL store, 64 callers",
            wal_note="the engine on its own SQLite store (FULL), same callers, same run",
            in_chart=False),
    ]


class Results:
    """Every program's figures in one namespace, and the §12 arithmetic."""

    def __init__(self, engine=None, durability=None, store=None, postgres=None, http=None):
        self.engine, self.durability, self.store = engine, durability, store
        self.postgres, self.http = postgres, http
        self.figures = {}
        for p in (http, postgres, store, durability, engine):
            if p:
                self.figures.update(p.figures)
        fsync = self.fsync_floor()
        if fsync:
            for t in DURABLE_CALLER_COUNTS:
                self.figures[fsync_bound(t)] = Figure(
                    name=fsync_bound(t), real_ns=fsync.real_ns / t, cpu_ns=float("nan"),
                    rate=t * 1e9 / fsync.real_ns, cv=fsync.cv, rate_cv=fsync.cv)
        commit = self.figures.get(POSTGRES_FLOOR)
        if commit:
            for t in POSTGRES_CALLERS:
                self.figures[postgres_bound(t)] = Figure(
                    name=postgres_bound(t), real_ns=commit.real_ns / t, cpu_ns=float("nan"),
                    rate=t * 1e9 / commit.real_ns, cv=commit.cv, rate_cv=commit.cv)

    def fsync_floor(self) -> Optional[Figure]:
        """The disk's floor under FULL: the appending sync (what the log does until
        its first checkpoint), else the overwriting one."""
        return (self.figures.get("BM_FloorFsync/append:1")
                or self.figures.get("BM_FloorFsync/append:0"))

    def value(self, name: str, measure: str) -> Optional[float]:
        f = self.figures.get(name)
        if f is None:
            return None
        if measure == "time":
            return f.real_ns
        if measure == "rate":
            return f.rate
        return f.counters.get("bytes_per_job")

    def cv(self, name: str, measure: str) -> Optional[float]:
        f = self.figures.get(name)
        if f is None:
            return None
        if measure == "time":
            return f.cv
        if measure == "rate":
            return f.rate_cv if f.rate_cv is not None else f.cv
        return f.counter_cv.get("bytes_per_job")

    def cost_ratio(self, a: str, b: str, measure: str) -> Optional[float]:
        """Cost of a over cost of b (for rates, b's rate over a's)."""
        va, vb = self.value(a, measure), self.value(b, measure)
        if not va or not vb:
            return None
        return vb / va if measure == "rate" else va / vb

    def wal_peer(self, row: Row) -> tuple:
        """(benchmark name, fell back?) for the row's WAL column."""
        if row.wal in self.figures or not row.wal_fallback:
            return row.wal, False
        if row.wal_fallback in self.figures:
            return row.wal_fallback, True
        return row.wal, False

    def measured(self, row: Row, goal: Goal) -> Optional[float]:
        """The figure a goal is judged on, None when the run lacks it."""
        if goal.kind in ("max_time", "min_rate", "max_bytes"):
            return self.value(row.engine, {"max_time": "time", "min_rate": "rate",
                                           "max_bytes": "bytes"}[goal.kind])
        if goal.kind == "floor_ratio":
            return self.cost_ratio(row.engine, row.floor, row.measure)
        if goal.kind == "floor_share":
            a, b = self.value(row.engine, "rate"), self.value(row.floor, "rate")
            return a / b if a and b else None
        if goal.kind == "speedup_mem":
            return self.cost_ratio(row.mem, row.engine, row.measure) if row.mem else None
        if goal.kind == "speedup_wal":
            return self.cost_ratio(self.wal_peer(row)[0], row.engine, row.measure)
        if goal.kind == "scaling":
            a, b = self.value(row.engine, "rate"), self.value(goal.base, "rate")
            return a / b if a and b else None
        raise ValueError(f"unknown goal kind {goal.kind}")

    def verdict(self, row: Row, goal: Goal) -> str:
        x = self.measured(row, goal)
        if x is None:
            return NOT_MEASURED
        at_most = goal.kind in ("max_time", "max_bytes", "floor_ratio")
        return "met" if (x <= goal.limit if at_most else x >= goal.limit) else "MISSED"

    def show_measured(self, row: Row, goal: Goal) -> str:
        x = self.measured(row, goal)
        if x is None:
            return NOT_MEASURED
        if goal.percent:
            return fmt_percent(x)
        return {"max_time": fmt_time, "min_rate": fmt_rate,
                "max_bytes": fmt_bytes}.get(goal.kind, fmt_ratio)(x)


def _cell(res: Results, name: str, measure: str) -> str:
    if not name:
        return "—"
    v = res.value(name, measure)
    if v is None:
        return NOT_MEASURED
    text = {"time": fmt_time, "rate": fmt_rate, "bytes": fmt_bytes}[measure](v)
    if measure == "bytes":
        extra = res.figures[name].counters.get("file_bytes_per_job")
        if extra is not None:
            text += f" + {fmt_bytes(extra)} on disk"
    return text + fmt_cv(res.cv(name, measure))


# --- The page ----------------------------------------------------------------

def _run(cmd, cwd=REPO) -> str:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def git_state() -> str:
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    if not commit:
        return "unknown (not a git checkout)"
    # The page and its chart are what this writes: they do not make a run dirty.
    dirty = _run(["git", "status", "--porcelain", "--", ".", ":!docs/benchmarks.md",
                  ":!docs/benchmarks.png"])
    return f"`{commit}`" + (" + uncommitted changes" if dirty else "")


def compiler(build_dir: str) -> str:
    cache = _read(os.path.join(build_dir, "CMakeCache.txt"))
    build_type = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache, re.M)
    build_type = build_type.group(1) if build_type else ""
    flags = re.search(rf"^CMAKE_CXX_FLAGS_{build_type.upper()}:\w+=(.*)$", cache, re.M)
    version = ""
    files = os.path.join(build_dir, "CMakeFiles")
    if os.path.isdir(files):
        for d in sorted(os.listdir(files)):
            text = _read(os.path.join(files, d, "CMakeCXXCompiler.cmake"))
            cid = re.search(r'CMAKE_CXX_COMPILER_ID "([^"]*)"', text)
            ver = re.search(r'CMAKE_CXX_COMPILER_VERSION "([^"]*)"', text)
            if cid and ver:
                version = f"{cid.group(1)} {ver.group(1)}"
    if not version:
        version = _run(["c++", "--version"]).split("\n")[0] or "unknown"
    out = version
    if build_type:
        out += f", CMake {build_type}"
        if flags and flags.group(1):
            out += f" (`{flags.group(1)}`)"
    return out


def machine() -> dict:
    cpuinfo = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    mem = re.search(r"^MemTotal:\s*(\d+) kB", _read("/proc/meminfo"), re.M)
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled").strip()
    thp_choice = re.search(r"\[(\w+)\]", thp)
    return {
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                     else os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "ram": f"{int(mem.group(1)) / 2**20:.1f} GiB" if mem else "unknown",
        "kernel": f"{platform.system()} {platform.release()}",
        "thp": thp_choice.group(1) if thp_choice else (thp or "unknown"),
    }


def benchmark_library(programs) -> str:
    for p in programs:
        if p and p.context.get("library_version"):
            version = p.context["library_version"]
            break
    else:
        deb = _run(["dpkg-query", "-W", "-f=${Version}", "libbenchmark-dev"])
        version = (f"{deb} (Debian's libbenchmark-dev; this version's JSON does not "
                   f"name itself)") if deb else "unknown"
    build = next((p.context.get("library_build_type") for p in programs
                  if p and p.context.get("library_build_type")), "")
    if build == "debug":
        version += (", built as DEBUG (its own bookkeeping; the timed loops are inlined "
                    "from the header and built Release)")
    return version


def _utc(date: str) -> str:
    try:
        d = datetime.datetime.fromisoformat(date)
    except (TypeError, ValueError):
        return date or "unknown"
    if d.tzinfo is None:
        return d.strftime("%Y-%m-%d %H:%M") + " (local time)"
    return d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


_STANDARD_CONTEXT = {"date", "host_name", "executable", "num_cpus", "mhz_per_cpu",
                     "cpu_scaling_enabled", "caches", "load_avg", "library_build_type",
                     "library_version", "json_schema_version"}


class Page:
    def __init__(self, res: Results, args):
        self.res, self.args = res, args
        self.lines = []

    def add(self, *lines):
        self.lines.extend(lines)

    def fragment(self, name: str):
        path = os.path.join(self.args.fragments, name)
        text = _read(path)
        if text:
            self.add(text.rstrip("\n"), "")

    def programs(self):
        return [("cascade_bench", self.res.engine),
                ("cascade_durability_bench", self.res.durability),
                ("cascade_store_bench", self.res.store),
                ("cascade_postgres_bench", self.res.postgres),
                ("bench/http_benchmark.py", self.res.http)]

    # --- sections ---

    def header(self):
        self.add(
            "<!-- Generated by bench/report.py (bench/run.sh runs it): do not edit this "
            "file. The prose comes from bench/report/*.md; edit those, or the generator. -->",
            "",
            "# Benchmarks",
            "",
            "This page is generated: `bench/run.sh` runs the benchmark programs and "
            "`bench/report.py` writes it from their JSON output and the prose in "
            "`bench/report/*.md`. Every figure in the tables below comes from the run "
            "described under [This run](#this-run); figures quoted in the prose carry "
            "the date and commit they were measured at.",
            "")

    def this_run(self):
        m = machine()
        a = self.args
        self.add("## This run", "")
        started = [(label, p) for label, p in self.programs() if p]
        when = "; ".join(f"`{label}` started {_utc(p.context.get('date', ''))}"
                         for label, p in started) or "no program ran"
        load = a.load_avg
        if not load:
            first = next((p for _, p in started if p.context.get("load_avg")), None)
            load = (" ".join(f"{x:.2f}" for x in first.context["load_avg"])
                    + ", when the first program started") if first else "unknown"
        self.add(
            f"- **When:** {when}; page written "
            f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
            f"- **Commit:** {git_state()}.",
            f"- **Command:** `{a.command}`" if a.command else
            "- **Command:** not recorded (the page was regenerated from existing JSON by "
            "`bench/report.py`).")
        for ran in a.ran:
            self.add(f"  - `{ran}`")
        self.add(
            f"- **Machine:** {m['nproc']} CPUs (`nproc`), {m['cpu']}, {m['ram']} RAM, "
            f"{m['kernel']}, transparent huge pages `{m['thp']}`.",
            f"- **Compiler:** {compiler(a.build_dir)}.",
            f"- **Google Benchmark:** {benchmark_library([p for _, p in started])}.",
            f"- **Load average at start:** {load}. The machine's {m['nproc']} CPUs may be "
            f"shared with other work: see [the machine](#the-machine-and-how-much-to-trust-"
            f"these-numbers).")
        for label, p in started:
            extra = {k: v for k, v in p.context.items() if k not in _STANDARD_CONTEXT}
            reps = sorted({f.repetitions for f in p.figures.values()})
            kind = (f"medians of {'/'.join(map(str, reps))} repetitions" if reps and
                    max(reps) > 1 else "single runs")
            line = f"- `{label}`: {kind}, JSON in `{p.path}`"
            if extra:
                line += "; " + ", ".join(f"{k} `{v}`" for k, v in extra.items())
            self.add(line + ".")
        self.add("")

    def spec_table(self, rows):
        res = self.res
        self.add(
            "## Contract §12 goals", "",
            "One line per row of [contract §12](contract.md#12-performance-goals), judged as "
            "its table says; a row judged at several thread counts, caller counts or "
            "configurations has a line for each (claim + finish at 1, 2 and 8 threads; "
            "durable under FULL with 8 and 64 callers and under NORMAL with 8; HTTP, each "
            "call in memory against the HTTP floor and with a data directory against "
            "nexrender-server). Figures are medians, with the coefficient of variation over "
            "the repetitions in parentheses. Time rows show wall time per call; claim + "
            "finish, durable, HTTP and PostgreSQL show throughput (cycles, acknowledged "
            "transitions or requests per second); memory shows bytes per resident job. "
            "Ratios are of cost, so they read the same on every line: **engine / floor** is "
            "how many times the floor's cost the engine's is (lower is better, 1× is the "
            "floor); **SQLite / engine** is how many times faster the engine is than SQLite "
            "(smaller, for memory); below 1× SQLite wins. On the HTTP lines the *SQLite WAL* "
            "column holds nexrender-server, and on the PostgreSQL line the engine on its "
            "SQLite store (the list under the table names every line's benchmarks).",
            "",
            "| # | operation | engine | floor | SQLite in-memory | SQLite WAL | engine / floor "
            "| SQLite-mem / engine | SQLite-WAL / engine | goal (contract §12) | verdict |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
        notes = []
        for row in rows:
            wal, fell_back = res.wal_peer(row)
            wal_cell = _cell(res, wal, row.measure)
            if fell_back:
                note = f"Row {row.number}: {row.wal_fallback_note}."
                if note not in notes:
                    notes.append(note)
                wal_cell += " †"
            floor_cell = _cell(res, row.floor, row.measure)
            if row.floor.startswith("fsync bound/") and row.floor in res.figures:
                fsync = res.fsync_floor()
                callers = row.floor.rsplit(":", 1)[1]
                floor_cell = (f"≤ {fmt_rate(res.value(row.floor, 'rate'))} "
                              f"({callers} ÷ fsync {fmt_time(fsync.real_ns)})")
            if row.floor == postgres_bound(POSTGRES_GOAL_CALLERS) and row.floor in res.figures:
                floor_cell = (f"≤ {fmt_rate(res.value(row.floor, 'rate'))} "
                              f"({POSTGRES_GOAL_CALLERS} ÷ commit "
                              f"{fmt_time(res.figures[POSTGRES_FLOOR].real_ns)})")
            verdicts = "; ".join(f"{g.short}: {fmt_verdict(res.verdict(row, g))}"
                                 for g in row.goals)
            self.add(
                f"| {row.number} | {row.operation} | {_cell(res, row.engine, row.measure)} | "
                f"{floor_cell} | {_cell(res, row.mem, row.measure)} | {wal_cell} | "
                f"{fmt_ratio(res.cost_ratio(row.engine, row.floor, row.measure))} | "
                f"{fmt_ratio(res.cost_ratio(row.mem, row.engine, row.measure)) if row.mem else '—'} | "
                f"{fmt_ratio(res.cost_ratio(wal, row.engine, row.measure))} | "
                f"{'; '.join(g.words for g in row.goals)} | {verdicts} |")
        self.add("")
        self.add("Benchmarks of each line (engine; floor; SQLite in-memory; SQLite WAL):", "")
        for row in rows:
            floor = row.floor or "—"
            if floor.startswith("fsync bound/"):
                floor = "`BM_FloorFsync/append:1` (else `append:0`): callers ÷ one fsync"
            elif floor.startswith("postgres commit bound/"):
                floor = f"`{POSTGRES_FLOOR}`: callers ÷ one commit"
            names = [row.engine, floor, row.mem or "—", row.wal]
            if row.wal_note:
                names[3] = f"`{row.wal}` ({row.wal_note})"
            self.add(f"- {row.number}, {row.operation}: " + "; ".join(
                n if n.startswith("`") or n == "—" else f"`{n}`" for n in names) + ".")
        for note in notes:
            self.add(f"- † {note}")
        self.add("")

    def chart(self, png_note):
        self.add("## Chart", "")
        if png_note:
            self.add(png_note, "")
        else:
            name = os.path.relpath(self.args.png, os.path.dirname(os.path.abspath(self.args.out)))
            self.add(f"![Cancel time per call as family size grows, and the engine's "
                     f"speed-up over SQLite on each contract §12 row against its goal]({name})",
                     "",
                     "Top: `CancelMany` of 100 roots of families of 1 + k jobs, time per "
                     "call, log-log. Bottom: on each §12 row, how many times faster (for "
                     "memory, smaller) the engine is than SQLite in-memory (durable: than "
                     "SQLite WAL, one transaction per call; HTTP: cascade-server with a data "
                     "directory than nexrender-server, requests per second), with the goal "
                     "where the contract sets one; the dashed line is parity.", "")

    def goals(self, rows):
        self.add("## Goals", "")
        res = self.res
        counts = {}
        for row in rows:
            for g in row.goals:
                v = res.verdict(row, g)
                counts[v] = counts.get(v, 0) + 1
                line = f"- {fmt_verdict(v)}: {row.operation}, {g.words}"
                if v != NOT_MEASURED:
                    line += f" — measured {res.show_measured(row, g)}"
                    if g.kind == "speedup_wal" and res.wal_peer(row)[1]:
                        line += " against the stand-in of the † note above"
                self.add(line + ".")
        self.add("", "In all: " + ", ".join(
            f"{counts.get(v, 0)} {v}" for v in ("met", "MISSED", NOT_MEASURED)) + ".", "")

    def family_sizes(self):
        res = self.res
        ks = {1, 2, 5, 10, 20, 50, 100}
        for name in res.figures:
            mm = re.match(r"^BM_(?:Floor|SqliteMem_|SqliteWal_)?CancelFamilySize/(\d+)$", name)
            if mm:
                ks.add(int(mm.group(1)))
        self.add(
            "## Cancel cost as family size grows", "",
            "`CancelMany` of 100 roots per call, each root with k children (100 × (1 + k) "
            "jobs cancelled per call; the `jobs_per_call` counter when the benchmark "
            "reports it). Time per call and per cancelled job; ratios of cost as above.",
            "")
        if not any(re.match(r"^BM_\w*CancelFamilySize/\d+$", n) for n in res.figures):
            self.add("Not measured: no `BM_CancelFamilySize/k`, `BM_FloorCancelFamilySize/k`, "
                     "`BM_SqliteMem_CancelFamilySize/k` or `BM_SqliteWal_CancelFamilySize/k` "
                     "in the run.", "")
            return
        self.add(
            "| k | jobs per call | engine | floor | SQLite in-memory | SQLite WAL | engine per "
            "job | floor per job | SQLite-mem per job | SQLite-WAL per job | engine / floor | "
            "SQLite-mem / engine | SQLite-WAL / engine |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for k in sorted(ks):
            names = [f"BM_CancelFamilySize/{k}", f"BM_FloorCancelFamilySize/{k}",
                     f"BM_SqliteMem_CancelFamilySize/{k}", f"BM_SqliteWal_CancelFamilySize/{k}"]
            jobs = next((res.figures[n].counters["jobs_per_call"] for n in names
                         if n in res.figures and "jobs_per_call" in res.figures[n].counters),
                        100 * (1 + k))
            per_job = [fmt_time(res.value(n, "time") / jobs) if res.value(n, "time")
                       else NOT_MEASURED for n in names]
            self.add(f"| {k} | {jobs:,.0f} | " + " | ".join(_cell(res, n, "time") for n in names)
                     + " | " + " | ".join(per_job) + " | "
                     + f"{fmt_ratio(res.cost_ratio(names[0], names[1], 'time'))} | "
                     + f"{fmt_ratio(res.cost_ratio(names[2], names[0], 'time'))} | "
                     + f"{fmt_ratio(res.cost_ratio(names[3], names[0], 'time'))} |")
        self.add("")

    def durable(self):
        res = self.res
        self.add(
            "## Durable transitions", "",
            "`cascade_durability_bench`: acknowledged transitions per second (Claim + "
            "Finish, 2 transitions a cycle, each call answered once durable) on one engine "
            "with a data directory, beside SQLite committing one transaction per call, the "
            "engine over a store that commits one transaction per call, and the same loop "
            "in memory. The durable lines of the goals table above are FULL (synchronous) "
            "with 8 and 64 callers and NORMAL with 8; *in memory* is the loop without a "
            "data directory, whatever the sync column says.", "",
            "| sync | callers | engine, group commit | SQLite WAL, per call | engine, per-call "
            "store | in memory | engine / SQLite | engine / per-call store | FULL bound "
            "(callers ÷ fsync) | engine / bound |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        fsync = res.fsync_floor()
        for sync, words in ((2, "FULL"), (1, "NORMAL")):
            for t in (1,) + DURABLE_CALLER_COUNTS:
                eng = f"BM_DurableTransitions/sync:{sync}/threads:{t}"
                sq = f"BM_SqliteWal_DurableTransitions/sync:{sync}/threads:{t}"
                pc = f"BM_PerCallTransitions/sync:{sync}/threads:{t}"
                mem = f"BM_InMemoryTransitions/threads:{t}"
                bound = t * 1e9 / fsync.real_ns if fsync and sync == 2 else None
                rate = res.value(eng, "rate")
                self.add(
                    f"| {words} | {t} | {_cell(res, eng, 'rate')} | {_cell(res, sq, 'rate')} | "
                    f"{_cell(res, pc, 'rate')} | {_cell(res, mem, 'rate')} | "
                    f"{fmt_ratio(res.cost_ratio(sq, eng, 'rate'))} | "
                    f"{fmt_ratio(res.cost_ratio(pc, eng, 'rate'))} | "
                    f"{'≤ ' + fmt_rate(bound) if bound else '—'} | "
                    f"{fmt_ratio(rate / bound) if rate and bound else '—'} |")
        self.add("")
        floors = {a: res.figures.get(f"BM_FloorFsync/append:{a}") for a in (0, 1)}
        if any(floors.values()):
            words = {0: "overwriting a preallocated file", 1: "appending"}
            self.add("The disk (`BM_FloorFsync`, 4 KiB `pwrite` + `fdatasync`): " + "; ".join(
                f"{words[a]} {fmt_time(f.real_ns)}{fmt_cv(f.cv)}"
                for a, f in floors.items() if f) + ".")
            parts = []
            for t in DURABLE_CALLER_COUNTS:
                bounds = " or ".join(f"{fmt_rate(t * 1e9 / f.real_ns, '')} ({words[a]})"
                                     for a, f in floors.items() if f)
                measured = res.value(f"BM_DurableTransitions/sync:2/threads:{t}", "rate")
                parts.append(f"{t} callers cannot pass {t} ÷ fsync = {bounds} transitions/s"
                             + (f" (measured {fmt_rate(measured, '')})" if measured else
                                " (not measured)"))
            self.add(
                "", "Under FULL every commit costs at least one such sync and carries at most "
                "one group per closed-loop caller, so " + "; ".join(parts) + ". Contract "
                "§12 asks for 0.9 of that bound: every commit carries every caller waiting "
                "for it, and the writer starts the next one as soon as the last is durable. "
                "A per-call peer whose callers each pay one fsync per call, concurrently, "
                "would keep FULL's ratio near the number of callers (8× at 8, below the 10× "
                "goal); where the ratio over SQLite passes that, it is because SQLite's "
                "writers also wait for each other's write lock (its rate with more callers "
                "against 1, in the table above), not because group commit beat the disk.")
        else:
            self.add("The disk's fsync floor (`BM_FloorFsync`): not measured.")
        self.add("")
        self._durable_cpu()
        self._durable_observed()

    def _durable_cpu(self):
        res = self.res
        rows = []
        for base in ("BM_DurableTransitions", "BM_SqliteWal_DurableTransitions",
                     "BM_PerCallTransitions"):
            for sync, words in ((2, "FULL"), (1, "NORMAL")):
                for t in (1,) + DURABLE_CALLER_COUNTS:
                    f = res.figures.get(f"{base}/sync:{sync}/threads:{t}")
                    if f and "cpu_cores" in f.counters:
                        rows.append((base, words, t, f.counters))
        if not rows:
            return
        self.add("CPU over the timed loop (`getrusage`, the whole process: callers and the "
                 "store's writer thread):", "",
                 "| benchmark | sync | callers | cores busy | user µs / transition | "
                 "kernel µs / transition | context switches / transition |",
                 "|---|---|---:|---:|---:|---:|---:|")
        for base, words, t, c in rows:
            self.add(f"| `{base}` | {words} | {t} | {c.get('cpu_cores', 0):.2f} | "
                     f"{c.get('user_us_per_transition', 0):.1f} | "
                     f"{c.get('sys_us_per_transition', 0):.1f} | "
                     f"{c.get('switches_per_transition', 0):.2f} |")
        self.add("")

    def _durable_observed(self):
        res = self.res
        rows = [(words, t, res.figures[n]) for sync, words in ((2, "FULL"), (1, "NORMAL"))
                for t in (1,) + DURABLE_CALLER_COUNTS
                for n in [f"BM_DurableTransitionsObserved/sync:{sync}/threads:{t}"]
                if n in res.figures]
        if not rows:
            return
        self.add(
            "Where a durable call's time goes (`BM_DurableTransitionsObserved`: the same "
            "engine and store, timed around the store's calls and on its writer thread; "
            "means in µs). Per call: *before Append* is lock wait + engine work + JSON "
            "encoding, *wake-up* the end of the commit that covered the call to "
            "`WaitDurable`'s return. Per commit: *commit* is BEGIN..COMMIT on the writer "
            "without checkpoints; *writer gap* the end of a commit to the start of the next; "
            "*writer busy* (commits + checkpoints) / wall time.", "",
            "| sync | callers | transitions/s | groups / commit | commits/s | before Append | "
            "WaitDurable | wake-up | commit | commit CPU | pages / commit | checkpoints "
            "(share of time) | writer gap | writer busy |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for words, t, f in rows:
            c = f.counters
            self.add(
                f"| {words} | {t} | {fmt_rate(f.rate)} | {c.get('groups_per_commit', 0):.2f} | "
                f"{c.get('commits_per_second', 0):,.0f} | {c.get('pre_append_us', 0):.1f} | "
                f"{c.get('wait_us', 0):,.1f} | {c.get('wake_us', 0):.1f} | "
                f"{c.get('commit_us', 0):,.1f} | {c.get('commit_cpu_us', 0):.1f} | "
                f"{c.get('pages_per_commit', 0):.2f} | {c.get('checkpoints', 0):.0f} "
                f"({c.get('checkpoint_share', 0) * 100:.0f} %) | "
                f"{c.get('writer_gap_us', 0):.1f} | {c.get('writer_busy', 0) * 100:.0f} % |")
        for words, t, f in rows:
            c = f.counters
            if words != "FULL":
                continue
            # FULL's fsync runs on the store's sync thread, where one sync covers
            # every transaction committed before it began; JSON from before the
            # sync thread has only the commit (which then held the fsync).
            if c.get("sync_us"):
                what, took, carried, unit = ("a sync of the log", c["sync_us"],
                                             c.get("groups_per_sync", 0),
                                             "covered {:.2f} transitions")
            elif c.get("commit_us"):
                what, took, carried, unit = ("a commit (its fsync)", c["commit_us"],
                                             c.get("groups_per_commit", 0),
                                             "carried {:.2f} groups")
            else:
                continue
            bound = carried * 1e6 / took
            self.add("", f"FULL, {t} caller{'s' if t > 1 else ''}: {what} took {took:,.0f} µs "
                     f"and {unit.format(carried)}: at most "
                     f"{fmt_rate(bound, ' transitions/s')}; measured "
                     f"{fmt_rate(f.rate, ' transitions/s')}.")
        self.add("")

    def postgres(self):
        res = self.res
        self.add(
            "## The PostgreSQL store", "",
            "`cascade_postgres_bench` ([contract §17](contract.md#17-high-availability-on-"
            "postgresql)): the durable transitions above (Claim + Finish, 2 transitions a "
            "cycle, each call answered once durable) through the engine on the PostgreSQL "
            "store (`Engine::Create` with a `postgresql://` URL, `synchronous_commit` on), "
            "beside the same engine on its SQLite store (FULL) and beside a PostgreSQL peer "
            "that commits one transaction per call (each caller on a connection of its own, "
            "prepared statements, one `UPDATE` of the job's row per transition), all in one "
            "run against one local server. Ratios are of throughput: above 1× the engine on "
            "PostgreSQL is faster.", "")
        if not res.postgres:
            self.add("Not measured: `cascade_postgres_bench` was not in the run "
                     "(`CASCADE_BENCH_PROGRAMS`).", "")
            return
        self.add(
            "| callers | engine, PostgreSQL store | engine, SQLite store (FULL) | PostgreSQL, "
            "one transaction per call | PostgreSQL store / SQLite store | PostgreSQL store / "
            "per call | bound (callers ÷ one commit) |",
            "|---:|---:|---:|---:|---:|---:|---:|")
        for t in POSTGRES_CALLERS:
            pg = f"BM_PostgresTransitions/threads:{t}"
            sq = f"BM_SqliteStoreTransitions/threads:{t}"
            pc = f"BM_PostgresPerCallTransitions/threads:{t}"
            bound = res.value(postgres_bound(t), "rate")
            self.add(
                f"| {t} | {_cell(res, pg, 'rate')} | {_cell(res, sq, 'rate')} | "
                f"{_cell(res, pc, 'rate')} | {fmt_ratio(res.cost_ratio(sq, pg, 'rate'))} | "
                f"{fmt_ratio(res.cost_ratio(pc, pg, 'rate'))} | "
                f"{'—' if bound is None else '≤ ' + fmt_rate(bound)} |")
        self.add("")
        r = next(r for r in spec_rows() if r.engine ==
                 f"BM_PostgresTransitions/threads:{POSTGRES_GOAL_CALLERS}")
        g = r.goals[0]
        v = res.verdict(r, g)
        self.add(f"Contract §12, {g.words}: {fmt_verdict(v)}"
                 + ("" if v == NOT_MEASURED else f" (measured {res.show_measured(r, g)})")
                 + ".", "")
        floor = res.figures.get(POSTGRES_FLOOR)
        if floor:
            self.add(
                f"The server's floor (`{POSTGRES_FLOOR}`: one connection, one autocommitted "
                f"single-row `UPDATE`, a round trip and a WAL flush): {fmt_time(floor.real_ns)}"
                f"{fmt_cv(floor.cv)} a commit. The store commits on one connection, one "
                f"transaction at a time, each carrying at most one group per closed-loop "
                f"caller, so T callers cannot pass T ÷ that (the last column). The per-call "
                f"peer has no such bound: PostgreSQL's backends share WAL flushes.", "")
        observed = [(t, res.figures[n]) for t in POSTGRES_CALLERS
                    for n in [f"BM_PostgresTransitionsObserved/threads:{t}"]
                    if n in res.figures]
        if observed:
            self.add(
                "The store's commits (`BM_PostgresTransitionsObserved`: the same engine and "
                "store, its `StoreStats` read; *commit interval* is the time between the "
                "starts of consecutive commits on its writer thread, the commit and the wait "
                "for the next groups):", "",
                "| callers | transitions/s | groups / commit | commits/s | commit interval "
                "| groups / commit ÷ commit interval |",
                "|---:|---:|---:|---:|---:|---:|")
            for t, f in observed:
                c = f.counters
                gpc, interval = c.get("groups_per_commit"), c.get("commit_interval_us")
                bound = (fmt_rate(gpc * 1e6 / interval) if gpc and interval else "—")
                self.add(f"| {t} | {fmt_rate(f.rate)} | "
                         f"{'—' if gpc is None else f'{gpc:.2f}'} | "
                         f"{c.get('commits_per_second', 0):,.0f} | "
                         f"{fmt_time(interval * 1e3) if interval else '—'} | {bound} |")
            self.add("")
        cpu = [(base, t, res.figures[f"{base}/threads:{t}"].counters)
               for base in ("BM_PostgresTransitions", "BM_SqliteStoreTransitions",
                            "BM_PostgresPerCallTransitions")
               for t in POSTGRES_CALLERS
               if f"{base}/threads:{t}" in res.figures]
        if cpu:
            self.add(
                "CPU over the timed loop: *this process* is the callers and the store's "
                "threads (`getrusage`); *machine* is every CPU's busy time (`/proc/stat`), "
                "PostgreSQL's backends included, and whatever else ran:", "",
                "| benchmark | callers | cores busy, this process | cores busy, machine | "
                "user µs / transition | kernel µs / transition |",
                "|---|---:|---:|---:|---:|---:|")
            for base, t, c in cpu:
                machine = c.get("machine_cores_busy")
                self.add(f"| `{base}` | {t} | {c.get('cpu_cores', 0):.2f} | "
                         f"{'—' if machine is None else f'{machine:.2f}'} | "
                         f"{c.get('user_us_per_transition', 0):.1f} | "
                         f"{c.get('sys_us_per_transition', 0):.1f} |")
            self.add("")
        context = res.postgres.context
        facts = [f"{words} `{context[k]}`"
                 for k, words in (("postgres_version", "version"),
                                  ("postgres_settings", "settings"),
                                  ("postgres_data_filesystem", "data directory on"))
                 if context.get(k)]
        if facts:
            self.add("The server: " + "; ".join(facts) + ".", "")

    def http(self):
        res = self.res
        self.add(
            "## cascade-server over HTTP (wrk)", "",
            "`bench/http_benchmark.py` ([contract §12](contract.md#12-performance-goals)'s "
            "HTTP row): requests per second of `GET /jobs/{id}` (cycling over 1,000 ids "
            "spread over the resident jobs) and `POST /jobs` (a small job, each request a "
            "new job), each server on loopback with the same resident jobs, all loaded by "
            "the same `wrk` with the same settings on the same machine. *CPU / request* is "
            "the server process's CPU time (all its threads) per answered request; latency "
            "is wrk's, p50 / p99.", "")
        if not res.http:
            self.add("Not measured: `bench/http_benchmark.py` was not in the run "
                     "(`CASCADE_BENCH_PROGRAMS`).", "")
            return
        self.add("| server | GET /jobs/{id} | latency p50 / p99 | CPU / request | POST /jobs | "
                 "latency p50 / p99 | CPU / request |",
                 "|---|---:|---:|---:|---:|---:|---:|")
        for server, words in HTTP_SERVERS:
            cells = []
            for call, _ in HTTP_CALLS:
                name = http_name(call, server)
                f = res.figures.get(name)
                if f is None:
                    error = res.http.errors.get(name)
                    cells += [f"error: {error}" if error else NOT_MEASURED, "", ""]
                    continue
                c = f.counters
                latency = (f"{_ms(c.get('latency_p50_ms'))} / {_ms(c.get('latency_p99_ms'))}")
                cpu = c.get("server_cpu_us_per_request")
                cells += [_cell(res, name, "rate"), latency,
                          "—" if cpu is None else fmt_time(cpu * 1e3)]
            self.add(f"| {words} | " + " | ".join(cells) + " |")
        # SQLite's row for the same calls, in process (cascade_bench).
        for kind, words in (("Mem", "in memory"), ("Wal", "WAL file")):
            get = res.figures.get(f"BM_Sqlite{kind}_Get")
            batch = res.figures.get(f"BM_Sqlite{kind}_SubmitBatch1000")
            self.add(f"| SQLite peer, {words}: its storage alone, in process † | "
                     f"{fmt_rate(1e9 / get.real_ns, ' calls/s') if get else NOT_MEASURED} | "
                     f"{fmt_time(get.real_ns) + ' a call' if get else ''} | | "
                     f"{fmt_rate(1e9 * 1000 / batch.real_ns, ' jobs/s') if batch else NOT_MEASURED}"
                     f" | {fmt_time(batch.real_ns / 1000) + ' a job' if batch else ''} | |")
        self.add(
            "", "† Not a server: `BM_Sqlite{Mem,Wal}_Get` and `BM_Sqlite{Mem,Wal}_SubmitBatch1000` "
            "of `cascade_bench`, the SQLite peer's get by id and its submit (per job of a "
            "1000-job batch in one transaction; one job in a transaction of its own costs "
            "more) called in process: what a server keeping its jobs in SQLite would spend "
            "on storage alone, per call, before any HTTP, JSON or authentication.", "")
        self.add("| call | in memory / floor | data directory / floor | in memory / "
                 "nexrender-server | data directory / nexrender-server |",
                 "|---|---:|---:|---:|---:|")
        for call, words in HTTP_CALLS:
            def share(server, peer):
                a, b = res.value(http_name(call, server), "rate"), res.value(
                    http_name(call, peer), "rate")
                return a / b if a and b else None
            self.add(f"| {words} | {fmt_percent(share('memory', 'floor'))} | "
                     f"{fmt_percent(share('full', 'floor'))} | "
                     f"{fmt_ratio(share('memory', 'nexrender'))} | "
                     f"{fmt_ratio(share('full', 'nexrender'))} |")
        self.add("")
        for row in _http_rows():
            for g in row.goals:
                v = res.verdict(row, g)
                self.add(f"- Contract §12, {row.operation}: {g.words}: {fmt_verdict(v)}"
                         + ("" if v == NOT_MEASURED else f" (measured {res.show_measured(row, g)})")
                         + ".")
        self.add("")
        context = res.http.context
        facts = []
        if context.get("client"):
            facts.append(f"{context['client']}, {context.get('client_settings', '')}".rstrip(", "))
        if context.get("resident_jobs"):
            facts.append(f"{context['resident_jobs']:,} resident jobs in each server")
        facts += [f"{words} {context[k]}" for k, words in (
            ("server_threads", "server threads:"), ("nexrender_server", "the peer:"),
            ("data_filesystem", "data directory on")) if context.get(k) not in (None, "")]
        if context.get("get_body_bytes"):
            facts.append(f"the floor's bodies {context['get_body_bytes']} B (GET) and "
                         f"{context.get('post_body_bytes', '?')} B (POST), "
                         f"cascade-server's answers' sizes")
        if facts:
            self.add("The run: " + "; ".join(facts) + ".", "")
        if context.get("nexrender_skipped"):
            self.add(f"nexrender-server was not measured: {context['nexrender_skipped']}.", "")
        others = [f.counters.get("other_cores_busy") for f in res.http.figures.values()]
        others = [o for o in others if o is not None]
        if others:
            self.add(f"Other work on the machine during the runs (busy CPU time that was "
                     f"neither the server's nor wrk's): {statistics.median(others):.2f} cores "
                     f"in the median run, {max(others):.2f} at most.", "")

    def store(self):
        res = self.res
        if not res.store:
            return
        self.add(
            "## The store alone", "",
            "`cascade_store_bench`: acknowledged store operations per second (one ~400-byte "
            "job row each), the store's group commit beside one transaction per call.", "",
            "| sync | callers | group commit | one transaction per call | ratio | groups / "
            "commit |",
            "|---|---:|---:|---:|---:|---:|")
        for sync, words in ((2, "FULL"), (1, "NORMAL")):
            for t in (1, DURABLE_CALLERS):
                g = f"BM_GroupCommit/sync:{sync}/threads:{t}"
                p = f"BM_PerCallCommit/sync:{sync}/threads:{t}"
                gpc = res.figures[g].counters.get("groups_per_commit") \
                    if g in res.figures else None
                self.add(f"| {words} | {t} | {_cell(res, g, 'rate')} | {_cell(res, p, 'rate')} | "
                         f"{fmt_ratio(res.cost_ratio(p, g, 'rate'))} | "
                         f"{'—' if gpc is None else f'{gpc:.2f}'} |")
        self.add("")

    def claim_finish(self):
        res = self.res
        one, two = "BM_ClaimFinish/threads:1", "BM_ClaimFinish/threads:2"
        sep, hand = "BM_ClaimFinishSeparateEngines/threads:2", "BM_FloorCacheLineHandoff/threads:2"
        self.add(
            "## Claim + finish, 1 and 2 threads", "",
            "The two extra lines explain the first two: the same cycle from 2 threads each "
            "on an engine of its own, and the cost of moving one cache line between the two "
            "CPUs. Wall time per cycle is the run's wall time over the cycles of all its "
            "threads; CPU per cycle adds up all threads' CPU, so scaling is read from "
            "throughput, never from CPU time.", "",
            "| benchmark | wall per cycle | CPU per cycle, all threads | throughput | vs 1 "
            "thread |",
            "|---|---:|---:|---:|---:|")
        r1 = res.value(one, "rate")
        for name in (one, two, sep):
            f = res.figures.get(name)
            if not f:
                self.add(f"| `{name}` | {NOT_MEASURED} | | | |")
                continue
            vs = fmt_ratio(f.rate / r1) if f.rate and r1 else "—"
            self.add(f"| `{name}` | {fmt_time(f.real_ns)}{fmt_cv(f.cv)} | {fmt_time(f.cpu_ns)} | "
                     f"{fmt_rate(f.rate, ' cycles/s')} | {vs} |")
        h = res.figures.get(hand)
        self.add(f"| `{hand}` | {fmt_time(h.real_ns) + ' per hand-off' if h else NOT_MEASURED}"
                 f"{fmt_cv(h.cv) if h else ''} | | | |", "")
        if h and one in res.figures:
            cycle = res.figures[one].real_ns
            # Two threads claiming oldest-first from one queue each take the
            # queue's head from the other at least once per cycle: one hand-off
            # added to every cycle, even with nothing else shared and no lock.
            bound = 2 * cycle / (cycle + h.real_ns)
            self.add(f"One hand-off ({fmt_time(h.real_ns)}) added to every {fmt_time(cycle)} "
                     f"cycle bounds 2 threads on one queue near **{bound:.2f}×** one thread; "
                     f"the goal is 1.6×.", "")

    def subscribers(self):
        res = self.res
        none, sleeper = "BM_SubmitBatch1000Subscribers/0", "BM_SubmitBatch1000Subscribers/1"
        self.add(
            "## Events: a sleeping subscriber", "",
            "| benchmark | wall | CPU | sleeper: events taken / dropped |",
            "|---|---:|---:|---|")
        for name, what in ((none, "no subscriber"), (sleeper, "sleeps 1 ms per event")):
            f = res.figures.get(name)
            if not f:
                self.add(f"| `{name}` ({what}) | {NOT_MEASURED} | | |")
                continue
            c = f.counters
            counts = (f"{c['events_delivered']:,.0f} / {c['events_dropped']:,.0f} of "
                      f"{c.get('jobs_held', 0):,.0f}" if name == sleeper and
                      "events_dropped" in c else "—")
            self.add(f"| `{name}` ({what}) | {fmt_time(f.real_ns)}{fmt_cv(f.cv)} | "
                     f"{fmt_time(f.cpu_ns)} | {counts} |")
        a, b = res.figures.get(none), res.figures.get(sleeper)
        if a and b:
            self.add("", f"**With the sleeper / without = {fmt_ratio(b.real_ns / a.real_ns)}** "
                     f"(wall; CPU {fmt_ratio(b.cpu_ns / a.cpu_ns)}). [Contract §8](contract.md#8-events-and-webhooks): a slow subscriber "
                     f"never blocks the engine, so this stays near 1× however slow the callback; "
                     f"had the engine waited, a call would take a second.")
        self.add("")

    def all_benchmarks(self):
        self.add("## Every benchmark of this run", "",
                 "Names without Google Benchmark's run settings (`iterations:`, `min_time:`, "
                 "`real_time`). Time columns are per iteration; counters are medians.", "")
        for label, p in self.programs():
            if not p:
                continue
            self.add(f"### `{label}`", "",
                     "| benchmark | wall | CPU | items/s | repetitions | counters |",
                     "|---|---:|---:|---:|---:|---|")
            for name, f in sorted(p.figures.items()):
                counters = ", ".join(f"{k} {_num(v)}" for k, v in sorted(f.counters.items()))
                self.add(f"| `{name}` | {fmt_time(f.real_ns)}{fmt_cv(f.cv)} | "
                         f"{fmt_time(f.cpu_ns)} | {fmt_rate(f.rate) if f.rate else '—'} | "
                         f"{f.repetitions} | {counters} |")
            for name, error in sorted(p.errors.items()):
                self.add(f"| `{name}` | error: {error} | | | | |")
            self.add("")


def _ms(v: Optional[float]) -> str:
    return "—" if v is None else fmt_time(v * 1e6)


def _num(v: float) -> str:
    if v is None or math.isnan(v):
        return "—"
    if v == 0 or 0.01 <= abs(v) < 1e6:
        return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return f"{v:.3g}"


# --- The chart ---------------------------------------------------------------

def chart(res: Results, rows, png: str, title: str) -> str:
    """Draws the PNG with gnuplot. Returns "" on success, else a sentence for the
    page saying why there is no chart."""
    rows = [r for r in rows if r.in_chart]
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return ("The chart was not generated: gnuplot is not installed (`bench/run.sh` "
                "installs Debian's `gnuplot-nox`).")
    with tempfile.TemporaryDirectory() as tmp:
        # (a) cancel time per call against family size.
        series = [("engine", "BM_CancelFamilySize"), ("floor", "BM_FloorCancelFamilySize"),
                  ("SQLite in-memory", "BM_SqliteMem_CancelFamilySize"),
                  ("SQLite WAL", "BM_SqliteWal_CancelFamilySize")]
        ks = sorted({int(n.rsplit("/", 1)[1]) for n in res.figures
                     if re.match(r"^BM_\w*CancelFamilySize/\d+$", n)})
        family = os.path.join(tmp, "family.dat")
        with open(family, "w") as f:
            for k in ks:
                vals = [res.value(f"{base}/{k}", "time") for _, base in series]
                f.write(f"{k} " + " ".join("NaN" if v is None else f"{v / 1e3:.6g}"
                                           for v in vals) + "\n")
        present = [i for i, (_, base) in enumerate(series)
                   if any(f"{base}/{k}" in res.figures for k in ks)]
        # (b) speed-up over SQLite per §12 row, and its goal.
        speed = os.path.join(tmp, "speedup.dat")
        values = []
        with open(speed, "w") as f:
            for i, row in enumerate(rows):
                peer = row.mem or res.wal_peer(row)[0]
                x = res.cost_ratio(peer, row.engine, row.measure)
                kind = "speedup_mem" if row.mem else "speedup_wal"
                goal = next((g for g in row.goals if g.kind == kind), None)
                verdict = res.verdict(row, goal) if goal else ""
                color = {"met": "0x2ca02c", "MISSED": "0xd62728"}.get(verdict, "0x7f7f7f")
                label = row.chart_label + ("" if row.mem else row.chart_peer)
                text = fmt_ratio(x) if x else "not measured"
                f.write(f'{i} {x if x else "NaN"} {color} "{label}" '
                        f'{goal.limit if goal else "NaN"} "{text}"\n')
                values += [v for v in (x, goal.limit if goal else None) if v]
        lo = min([1.0] + values) / 3
        hi = max([10.0] + values) * 4
        script = [
            'set terminal pngcairo size 1100,1150 font "DejaVu Sans,10"',
            f"set output {_gp_string(png)}",
            "set encoding utf8",
            "set termoption noenhanced",
            "set datafile missing 'NaN'",
            f"set multiplot layout 2,1 title {_gp_string(title)} font ',12'",
            # (a)
            "set title 'CancelMany of 100 roots, each with k children: time per call'",
            "set logscale xy",
            "set xlabel 'k (children per root)'",
            "set ylabel 'µs per call'",
            "set grid xtics ytics mxtics mytics lc rgb '#dddddd'",
            "set key top left",
            f"set xrange [0.8:{max(ks + [100]) * 1.25}]",
        ]
        if present:
            colors = ["#1f77b4", "#444444", "#ff7f0e", "#9467bd"]
            script.append("plot " + ", ".join(
                f"{_gp_string(family)} using 1:{i + 2} with linespoints lw 2 pt 7 "
                f"lc rgb '{colors[i]}' title {_gp_string(series[i][0])}" for i in present))
        else:
            script += ["set label 1 'not measured (no BM_CancelFamilySize in the run)' at "
                       "graph 0.5, graph 0.5 center", "set yrange [1:10]",
                       "plot 1e9 notitle", "unset label 1"]
        script += [
            # (b)
            "unset logscale x", "unset grid", "unset mxtics", "set grid ytics lc rgb '#dddddd'",
            "set title \"Engine speed-up over its peer per contract §12 row: SQLite in-memory "
            "(durable: SQLite WAL; HTTP: nexrender-server)\\ngreen met, red missed, grey no "
            "speed-up goal\"",
            "set xlabel ''", "set ylabel '× faster (memory: × smaller)'",
            f"set xrange [-0.6:{len(rows) - 0.4}]", f"set yrange [{lo}:{hi}]",
            "set xtics rotate by 25 right nomirror", "set key outside right top vertical",
            "set style fill solid 0.85 noborder", "set boxwidth 0.6",
            "set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb 'black'",
            f"plot {_gp_string(speed)} using 1:2:3:xtic(4) with boxes lc rgb variable "
            f"title 'engine speed-up', "
            f"'' using 1:5 with points pt 9 ps 2.2 lc rgb 'black' title 'goal', "
            f"'' using 1:({lo * 1.25}):6 with labels rotate by 90 left font ',9' notitle",
            "unset multiplot",
        ]
        path = os.path.join(tmp, "chart.gp")
        with open(path, "w") as f:
            f.write("\n".join(script) + "\n")
        proc = subprocess.run([gnuplot, path], capture_output=True, text=True)
        if proc.returncode != 0:
            return ("The chart was not generated: gnuplot failed (" +
                    (proc.stderr.strip().splitlines() or ["no message"])[-1] + ").")
    return ""


def _gp_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- Main --------------------------------------------------------------------

def build_page(res: Results, args, png_note: str) -> str:
    rows = spec_rows()
    page = Page(res, args)
    page.header()
    page.fragment("intro.md")
    page.fragment("how-to-run.md")
    page.this_run()
    page.spec_table(rows)
    page.chart(png_note)
    page.goals(rows)
    page.durable()
    page.fragment("durable.md")
    page.postgres()
    page.fragment("postgres.md")
    page.http()
    page.fragment("http.md")
    page.family_sizes()
    page.claim_finish()
    page.fragment("claim-finish.md")
    page.subscribers()
    page.fragment("events.md")
    page.store()
    page.fragment("measured.md")
    page.fragment("peer.md")      # the SQLite peer's design, when that file exists
    page.fragment("machine.md")
    page.fragment("time.md")
    page.fragment("history.md")
    page.all_benchmarks()
    return "\n".join(page.lines).rstrip("\n") + "\n"


def summary(res: Results) -> str:
    """A short table for the terminal."""
    out = [f"{'#':<3}{'operation':<45} {'engine':<22} goals"]
    for row in spec_rows():
        engine = _cell(res, row.engine, row.measure)
        verdicts = "; ".join(
            f"{g.short}: {res.verdict(row, g)}" + (
                "" if res.verdict(row, g) == NOT_MEASURED else f" ({res.show_measured(row, g)})")
            for g in row.goals)
        out.append(f"{row.number:<3}{row.operation:<45} {engine:<22} {verdicts}")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--engine", help="cascade_bench's JSON")
    p.add_argument("--durability", help="cascade_durability_bench's JSON")
    p.add_argument("--store", help="cascade_store_bench's JSON")
    p.add_argument("--postgres", help="cascade_postgres_bench's JSON")
    p.add_argument("--http", help="bench/http_benchmark.py's JSON")
    p.add_argument("--out", default=os.path.join(REPO, "docs", "benchmarks.md"))
    p.add_argument("--png", help="the chart (default: --out with .png)")
    p.add_argument("--fragments", default=os.path.join(REPO, "bench", "report"))
    p.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    p.add_argument("--command", default="", help="the command that produced the JSON")
    p.add_argument("--ran", action="append", default=[],
                   help="a program's command line, as run (repeatable)")
    p.add_argument("--load-avg", default="", help="the load average when the run started")
    p.add_argument("--no-chart", action="store_true")
    args = p.parse_args(argv)
    args.png = args.png or os.path.splitext(args.out)[0] + ".png"

    res = Results(engine=load(args.engine), durability=load(args.durability),
                  store=load(args.store), postgres=load(args.postgres), http=load(args.http))
    if args.no_chart:
        png_note = "The chart was not generated (`--no-chart`)."
    else:
        title = f"Cascade benchmarks, commit {git_state().replace('`', '')}"
        png_note = chart(res, spec_rows(), args.png, title)
    text = build_page(res, args, png_note)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(summary(res))
    print(f"\nwrote {args.out}" + ("" if png_note else f" and {args.png}"))
    if png_note:
        print(png_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
