#!/usr/bin/env python3
# Copyright 2026 The Cascade Authors.
#
# File: bench/report_test.py
# -----------------------------------------------------------------------------
# Tests of bench/report.py on synthetic JSON shaped like Google Benchmark
# 1.7's (--benchmark_out_format=json). The figures below are TEST DATA made up
# for the arithmetic, not measurements. Registered in ctest as
# bench_report_test; runs in well under a second and starts no gnuplot.

import argparse
import json
import os
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def aggregates(run_name, real, unit="ns", items=None, counters=None, cv=0.05, reps=5,
               threads=1):
    """The four aggregates --benchmark_report_aggregates_only writes for one
    benchmark: mean, median, stddev and cv (a fraction)."""
    out = []
    for agg, scale in (("mean", 1.0), ("median", 1.0), ("stddev", cv), ("cv", None)):
        e = {"name": f"{run_name}_{agg}", "run_name": run_name, "run_type": "aggregate",
             "repetitions": reps, "threads": threads, "aggregate_name": agg,
             "aggregate_unit": "percentage" if agg == "cv" else "time", "iterations": reps,
             "time_unit": unit}
        if scale is None:
            e.update(real_time=cv, cpu_time=cv)
            if items is not None:
                e["items_per_second"] = cv
            for k in counters or {}:
                e[k] = cv
        else:
            e.update(real_time=real * scale, cpu_time=real * scale)
            if items is not None:
                e["items_per_second"] = items * scale
            for k, v in (counters or {}).items():
                e[k] = v * scale
        out.append(e)
    return out


def single(run_name, real, unit="ns", items=None, counters=None, threads=1):
    e = {"name": run_name, "run_name": run_name, "run_type": "iteration", "repetitions": 1,
         "repetition_index": 0, "threads": threads, "iterations": 100, "real_time": real,
         "cpu_time": real, "time_unit": unit}
    if items is not None:
        e["items_per_second"] = items
    e.update(counters or {})
    return e


def document(benchmarks):
    return {"context": {"date": "2026-01-02T03:04:05+00:00", "num_cpus": 2,
                        "load_avg": [0.5, 0.4, 0.3], "library_build_type": "release",
                        "library_version": "test"},
            "benchmarks": benchmarks}


def engine_json(cancel_us=60.0, floor_us=30.0, families_us=100.0, families_mem_us=4000.0,
                submit_us=400.0, get_ns=100.0, get_mem_ns=2000.0, claim1=2e6, claim2=3.4e6,
                claim_mem=50e3, bytes_per_job=200.0):
    b = []
    b += aggregates("BM_CancelMany1000Leaves/iterations:100/real_time", cancel_us, "us",
                    counters={"ns_per_1000_ops": cancel_us * 1e3})
    b += aggregates("BM_FloorHashFindWrite1000/real_time", floor_us, "us")
    b += aggregates("BM_CancelMany1000Families/iterations:100/real_time", families_us, "us")
    b += aggregates("BM_SqliteMem_CancelMany1000Families/real_time", families_mem_us, "us")
    b += aggregates("BM_SubmitBatch1000/iterations:100/real_time", submit_us, "us")
    b += aggregates("BM_Get/real_time", get_ns, "ns")
    b += aggregates("BM_SqliteMem_Get/real_time", get_mem_ns, "ns")
    for t, rate in ((1, claim1), (2, claim2)):
        b += aggregates(f"BM_ClaimFinish/iterations:200000/real_time/threads:{t}", 1e9 / rate,
                        items=rate, threads=t)
        b += aggregates(f"BM_SqliteMem_ClaimFinish/iterations:2000/real_time/threads:{t}",
                        1e9 / claim_mem, items=claim_mem, threads=t)
    b += aggregates("BM_ResidentBytes/iterations:1", 1.0, "s",
                    counters={"bytes_per_job": bytes_per_job})
    b += aggregates("BM_SqliteWal_ResidentBytes/iterations:1", 1.0, "s",
                    counters={"bytes_per_job": 900.0, "file_bytes_per_job": 450.0})
    for k in (1, 10, 100):
        b += aggregates(f"BM_CancelFamilySize/{k}/iterations:50/real_time", 10.0 * (1 + k),
                        "us", counters={"jobs_per_call": 100.0 * (1 + k)})
        b += aggregates(f"BM_SqliteMem_CancelFamilySize/{k}/real_time", 500.0 * (1 + k), "us",
                        counters={"jobs_per_call": 100.0 * (1 + k)})
    return document(b)


def durability_json(full8=60e3, sqlite8=5e3, per_call8=None):
    b = [single("BM_DurableTransitions/sync:2/min_time:2.000/real_time/threads:8",
                1e9 * 8 / full8, items=full8, threads=8),
         single("BM_FloorFsync/append:1/min_time:1.000/real_time", 100.0, "us"),
         single("BM_FloorFsync/append:0/min_time:1.000/real_time", 80.0, "us")]
    if sqlite8 is not None:
        b.append(single("BM_SqliteWal_DurableTransitions/sync:2/min_time:2.000/real_time/"
                        "threads:8", 1e9 * 8 / sqlite8, items=sqlite8, threads=8))
    if per_call8 is not None:
        b.append(single("BM_PerCallTransitions/sync:2/min_time:2.000/real_time/threads:8",
                        1e9 * 8 / per_call8, items=per_call8, threads=8))
    return document(b)


def postgres_json(pg8=4e3, pg64=20e3, sqlite8=6e3, sqlite64=25e3, per_call8=2e3,
                  per_call64=4e3, floor_us=500.0, observed=True):
    """cascade_postgres_bench's aggregates (3 repetitions)."""
    b = []
    for base, rates in (("BM_PostgresTransitions", (pg8, pg64)),
                        ("BM_SqliteStoreTransitions", (sqlite8, sqlite64)),
                        ("BM_PostgresPerCallTransitions", (per_call8, per_call64))):
        for t, rate in zip((8, 64), rates):
            if rate is not None:
                b += aggregates(f"{base}/min_time:1.000/real_time/threads:{t}",
                                1e6 * 2 * t / rate, "us", items=rate, reps=3, threads=t,
                                counters={"cpu_cores": 0.25, "machine_cores_busy": 1.5,
                                          "user_us_per_transition": 10.0,
                                          "sys_us_per_transition": 12.0})
    if observed and pg64 is not None:
        b += aggregates("BM_PostgresTransitionsObserved/min_time:1.000/real_time/threads:64",
                        1e6 * 2 * 64 / pg64, "us", items=pg64, reps=3, threads=64,
                        counters={"groups_per_commit": 60.0, "commits_per_second": 300.0,
                                  "commit_interval_us": 3000.0})
    if floor_us is not None:
        b += aggregates("BM_PostgresFloorCommit/min_time:1.000/real_time", floor_us, "us",
                        items=1e6 / floor_us, reps=3)
    doc = document(b)
    doc["context"].update(postgres_version="PostgreSQL 15.99 (test)",
                          postgres_settings="synchronous_commit=on, fsync=on")
    return doc


def results(engine=None, durability=None, postgres=None):
    return report.Results(
        engine=report.parse(engine, "engine.json") if engine else None,
        durability=report.parse(durability, "durability.json") if durability else None,
        postgres=report.parse(postgres, "postgres.json") if postgres else None)


def row(number, operation_prefix=""):
    return next(r for r in report.spec_rows()
                if r.number == number and r.operation.startswith(operation_prefix))


def verdicts(res, r):
    return [res.verdict(r, g) for g in r.goals]


class NormaliseTest(unittest.TestCase):
    def test_drops_run_settings_and_keeps_arguments(self):
        cases = {
            "BM_ClaimFinish/iterations:200000/real_time/threads:1": "BM_ClaimFinish/threads:1",
            "BM_DurableTransitions/sync:2/min_time:2.000/real_time/threads:8":
                "BM_DurableTransitions/sync:2/threads:8",
            "BM_CancelFamilySize/10/iterations:50/real_time": "BM_CancelFamilySize/10",
            "BM_CancelFamilySize/k:10/iterations:20/real_time": "BM_CancelFamilySize/10",
            "BM_FloorCancelFamilySize/k:100/real_time": "BM_FloorCancelFamilySize/100",
            "BM_FloorFsync/append:1/min_time:1.000/real_time": "BM_FloorFsync/append:1",
            "BM_Get/real_time": "BM_Get",
            "BM_SubmitBatch1000Subscribers/1/iterations:200/real_time":
                "BM_SubmitBatch1000Subscribers/1",
        }
        for raw, want in cases.items():
            self.assertEqual(report.normalise(raw), want, raw)


class ParseTest(unittest.TestCase):
    def test_median_and_cv_of_aggregates(self):
        p = report.parse(engine_json(), "x")
        f = p.figures["BM_CancelMany1000Leaves"]
        self.assertAlmostEqual(f.real_ns, 60e3)
        self.assertAlmostEqual(f.cv, 0.05)
        self.assertEqual(f.repetitions, 5)
        self.assertEqual(p.figures["BM_ClaimFinish/threads:2"].rate, 3.4e6)

    def test_median_of_repetitions_without_aggregates(self):
        runs = [single("BM_Get/real_time", t) for t in (100.0, 300.0, 200.0)]
        f = report.parse(document(runs)).figures["BM_Get"]
        self.assertAlmostEqual(f.real_ns, 200.0)
        self.assertAlmostEqual(f.cv, 0.5)
        self.assertEqual(f.repetitions, 3)

    def test_single_run_has_no_cv_and_errors_are_kept_apart(self):
        doc = document([single("BM_Get/real_time", 100.0),
                        {"name": "BM_List50", "run_name": "BM_List50", "run_type": "iteration",
                         "error_occurred": True, "error_message": "boom"}])
        p = report.parse(doc)
        self.assertIsNone(p.figures["BM_Get"].cv)
        self.assertNotIn("BM_List50", p.figures)
        self.assertEqual(p.errors["BM_List50"], "boom")


class VerdictTest(unittest.TestCase):
    def test_floor_ratio(self):
        met = results(engine_json(cancel_us=60, floor_us=30))
        missed = results(engine_json(cancel_us=120, floor_us=30))
        self.assertAlmostEqual(met.measured(row("1"), row("1").goals[0]), 2.0)
        self.assertEqual(verdicts(met, row("1")), ["met"])
        self.assertEqual(verdicts(missed, row("1")), ["MISSED"])

    def test_speedup_over_sqlite_in_memory_for_time(self):
        met = results(engine_json(families_us=100, families_mem_us=4000))   # 40x
        missed = results(engine_json(families_us=200, families_mem_us=4000))  # 20x
        self.assertAlmostEqual(met.measured(row("2"), row("2").goals[0]), 40.0)
        self.assertEqual(verdicts(met, row("2")), ["met"])
        self.assertEqual(verdicts(missed, row("2")), ["MISSED"])

    def test_speedup_over_sqlite_for_throughput(self):
        r = row("6", "claim + finish cycle, 1")
        met = results(engine_json(claim1=2e6, claim_mem=50e3))    # 40x
        missed = results(engine_json(claim1=2e6, claim_mem=200e3))  # 10x
        self.assertAlmostEqual(met.measured(r, r.goals[0]), 40.0)
        self.assertEqual(verdicts(met, r), ["met"])
        self.assertEqual(verdicts(missed, r), ["MISSED"])

    def test_max_time(self):
        met = results(engine_json(submit_us=400))
        missed = results(engine_json(submit_us=600))
        # The submit row's SQLite figure is absent: that goal is not measured.
        self.assertEqual(verdicts(met, row("3")), [report.NOT_MEASURED, "met"])
        self.assertEqual(verdicts(missed, row("3")), [report.NOT_MEASURED, "MISSED"])

    def test_max_time_and_speedup_on_one_row(self):
        met = results(engine_json(get_ns=100, get_mem_ns=2000))    # 100 ns, 20x
        missed = results(engine_json(get_ns=400, get_mem_ns=2000))  # 400 ns, 5x
        self.assertEqual(verdicts(met, row("4")), ["met", "met"])
        self.assertEqual(verdicts(missed, row("4")), ["MISSED", "MISSED"])

    def test_scaling(self):
        r = row("6", "claim + finish cycle, 2")
        met = results(engine_json(claim1=2e6, claim2=3.4e6, claim_mem=10e3))  # 1.7x
        missed = results(engine_json(claim1=2e6, claim2=1e6, claim_mem=10e3))  # 0.5x
        self.assertEqual(verdicts(met, r), ["met", "met"])
        self.assertEqual(verdicts(missed, r), ["met", "MISSED"])
        self.assertAlmostEqual(missed.measured(r, r.goals[1]), 0.5)

    def test_max_bytes(self):
        self.assertEqual(verdicts(results(engine_json(bytes_per_job=200)), row("8")), ["met"])
        self.assertEqual(verdicts(results(engine_json(bytes_per_job=300)), row("8")), ["MISSED"])

    def test_durable_rate_and_ratio(self):
        met = results(durability=durability_json(full8=60e3, sqlite8=5e3))      # 12x
        missed = results(durability=durability_json(full8=40e3, sqlite8=8e3))   # 5x
        self.assertEqual(verdicts(met, row("9")), ["met", "met"])
        self.assertEqual(verdicts(missed, row("9")), ["MISSED", "MISSED"])
        # The floor is 8 callers over the appending fsync: 8 / 100 us.
        self.assertAlmostEqual(met.value(report.FSYNC_BOUND, "rate"), 80e3)
        self.assertAlmostEqual(met.cost_ratio(row("9").engine, row("9").floor, "rate"), 80 / 60)

    def test_durable_falls_back_on_the_per_call_store(self):
        res = results(durability=durability_json(full8=60e3, sqlite8=None, per_call8=3e3))
        name, fell_back = res.wal_peer(row("9"))
        self.assertTrue(fell_back)
        self.assertEqual(name, "BM_PerCallTransitions/sync:2/threads:8")
        self.assertEqual(verdicts(res, row("9")), ["met", "met"])

    def test_postgres_store_at_64_callers(self):
        r = row("11")
        met = results(postgres=postgres_json(pg64=20e3))
        missed = results(postgres=postgres_json(pg64=4.5e3))
        self.assertEqual(r.engine, "BM_PostgresTransitions/threads:64")
        self.assertEqual(verdicts(met, r), ["met"])
        self.assertEqual(verdicts(missed, r), ["MISSED"])
        self.assertAlmostEqual(met.measured(r, r.goals[0]), 20e3)
        # The bound: 64 callers over one 500 us commit.
        self.assertAlmostEqual(met.value(report.postgres_bound(64), "rate"), 128e3)
        self.assertAlmostEqual(met.value(report.postgres_bound(8), "rate"), 16e3)
        # The WAL column is the engine on SQLite: 20k / 25k.
        self.assertAlmostEqual(met.cost_ratio(r.wal, r.engine, "rate"), 0.8)
        # Only the 8-caller figure: the 64-caller goal is not measured.
        self.assertEqual(verdicts(results(postgres=postgres_json(pg64=None)), r),
                         [report.NOT_MEASURED])
        # Not a speed-up over SQLite: kept off the chart's speed-up panel.
        self.assertFalse(r.in_chart)
        self.assertTrue(all(x.in_chart for x in report.spec_rows() if x.number != "11"))

    def test_missing_benchmarks_are_not_measured(self):
        res = results()
        for r in report.spec_rows():
            self.assertEqual(verdicts(res, r), [report.NOT_MEASURED] * len(r.goals),
                             r.operation)
            self.assertEqual(report._cell(res, r.engine, r.measure), report.NOT_MEASURED)


CONTRACT_ROWS = [
    "cancel 1000 leaf ids", "cancel 1000 ids, families of 1+10", "submit batch of 1000",
    "get by id", "batch aggregate read", "claim + finish cycle", "list, state filter, limit 50",
    "resident memory", "durable (WAL, synchronous), 8 submitters",
    "PostgreSQL store (§17), 64 callers",
]


class PageTest(unittest.TestCase):
    def page(self, engine=None, durability=None, fragments=None, postgres=None):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (fragments or {}).items():
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
            args = argparse.Namespace(
                fragments=tmp, build_dir=os.path.join(tmp, "no-build"), command="bench/run.sh",
                ran=["build-bench/bench/cascade_bench --flags"], load_avg="0.10 0.20 0.30",
                out=os.path.join(tmp, "benchmarks.md"), png=os.path.join(tmp, "benchmarks.png"))
            return report.build_page(results(engine, durability, postgres), args,
                                     "no chart (test)")

    def spec_table(self, text):
        start = text.index("| # | operation |")
        return text[start:text.index("\n\n", start)].split("\n")[2:]

    def test_every_spec_row_is_on_the_page_with_its_ratio(self):
        text = self.page(engine_json(), durability_json(), postgres=postgres_json())
        table = self.spec_table(text)
        self.assertEqual(len(table), 11)   # 10 rows, claim + finish twice
        for words in CONTRACT_ROWS:
            self.assertTrue(any(f"| {words}" in line for line in table), words)
        cancel = next(line for line in table if "| cancel 1000 leaf ids |" in line)
        self.assertIn("| 2.00× |", cancel)
        self.assertIn("≤ 3× floor: met", cancel)
        self.assertIn("60.0 µs (5 %)", cancel)
        durable = next(line for line in table if "| durable" in line)
        self.assertIn("12.0×", durable)
        self.assertIn("≤ 80.0 k/s", durable)
        postgres = next(line for line in table if "| PostgreSQL store" in line)
        self.assertTrue(postgres.startswith("| 11 |"), postgres)
        self.assertIn("| 20.0 k/s (5 %) |", postgres)
        self.assertIn("≤ 128.0 k/s (64 ÷ commit 500.0 µs)", postgres)
        self.assertIn("| 25.0 k/s (5 %) |", postgres)   # the engine on SQLite
        self.assertIn("| 0.80× |", postgres)
        self.assertIn("≥ 5k/s: met", postgres)
        self.assertNotIn("None", text)
        self.assertNotIn("nan", text.lower().replace("nanosec", ""))

    def test_an_empty_run_still_makes_a_page(self):
        text = self.page()
        table = self.spec_table(text)
        self.assertEqual(len(table), 11)
        for line in table:
            self.assertIn(report.NOT_MEASURED, line)
        self.assertIn("In all: 0 met, 0 MISSED, 16 not measured.", text)
        self.assertIn("Not measured: `cascade_postgres_bench` was not in the run", text)

    def test_postgres_section(self):
        text = self.page(postgres=postgres_json(pg8=4e3, pg64=20e3, sqlite8=8e3, sqlite64=25e3,
                                                per_call8=2e3, per_call64=4e3, floor_us=500.0),
                         fragments={"postgres.md": "POSTGRES PROSE\n"})
        start = text.index("## The PostgreSQL store")
        section = text[start:text.index("\n## ", start + 1)]
        lines = section.split("\n")
        eight = next(line for line in lines if line.startswith("| 8 |"))
        sixty_four = next(line for line in lines if line.startswith("| 64 |") and "k/s" in line
                          and "0.80×" in line)
        # PostgreSQL / SQLite, PostgreSQL / per call, the commit bound.
        self.assertIn("| 0.50× | 2.00× | ≤ 16.0 k/s |", eight)
        self.assertIn("| 0.80× | 5.00× | ≤ 128.0 k/s |", sixty_four)
        self.assertIn("≥ 5k acknowledged transitions/s with 64 callers on a local PostgreSQL: "
                      "met (measured 20.0 k/s)", section)
        self.assertIn("500.0 µs (5 %) a commit", section)
        observed = next(line for line in lines if line.startswith("| 64 | 20.0 k/s | 60.00 |"))
        self.assertIn("| 300 | 3.00 ms | 20.0 k/s |", observed)   # 60 groups / 3 ms
        self.assertIn("| `BM_PostgresPerCallTransitions` | 64 | 0.25 | 1.50 | 10.0 | 12.0 |",
                      section)
        self.assertIn("PostgreSQL 15.99 (test)", section)
        self.assertIn("POSTGRES PROSE", text)
        self.assertLess(start, text.index("POSTGRES PROSE"))
        self.assertIn("### `cascade_postgres_bench`", text)   # every benchmark, listed

    def test_postgres_section_when_missed(self):
        text = self.page(postgres=postgres_json(pg64=3e3, observed=False, floor_us=None))
        self.assertIn("with 64 callers on a local PostgreSQL: **MISSED** (measured 3,000/s)",
                      text)
        self.assertNotIn("groups / commit", text.split("## The PostgreSQL store")[1]
                         .split("\n## ")[0])

    def test_header_run_facts_fragments_and_family_table(self):
        text = self.page(engine_json(), durability_json(),
                         fragments={"intro.md": "INTRO PROSE\n", "peer.md": "### The SQLite peer\n"})
        self.assertTrue(text.startswith("<!-- Generated by bench/report.py"))
        for fact in ("**Commit:**", "**Command:** `bench/run.sh`", "**Machine:**",
                     "transparent huge pages", "**Compiler:**", "**Google Benchmark:** test",
                     "**Load average at start:** 0.10 0.20 0.30", "no chart (test)"):
            self.assertIn(fact, text)
        self.assertLess(text.index("INTRO PROSE"), text.index("## Contract §12 goals"))
        self.assertIn("### The SQLite peer", text)
        family = next(line for line in text.split("\n") if line.startswith("| 10 | 1,100 |"))
        # 110 us per call for 1,100 jobs, SQLite 50x slower.
        self.assertIn("110.0 µs (5 %)", family)
        self.assertIn("100.0 ns", family)
        self.assertIn("50.0×", family)

    def test_chart_is_skipped_without_gnuplot(self):
        with mock.patch.object(report.shutil, "which", return_value=None):
            note = report.chart(results(), report.spec_rows(), "/nonexistent/x.png", "t")
        self.assertIn("not generated", note)


class LoadTest(unittest.TestCase):
    def test_bare_nan_is_read(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(json.dumps(document([single("BM_Get/real_time", 100.0)]))
                    .replace('"cpu_time": 100.0', '"cpu_time": 100.0, "x": nan'))
        try:
            p = report.load(f.name)
        finally:
            os.unlink(f.name)
        self.assertIn("BM_Get", p.figures)


if __name__ == "__main__":
    unittest.main()
