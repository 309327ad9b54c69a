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
import http_benchmark  # noqa: E402
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
                families_floor_us=25.0, submit_us=400.0, submit_mem_us=5000.0,
                submit_floor_us=250.0, get_ns=100.0, get_mem_ns=2000.0, get_floor_ns=40.0,
                claim1=2e6, claim2=3.4e6, claim8=None, claim_mem=50e3, bytes_per_job=200.0):
    b = []
    b += aggregates("BM_CancelMany1000Leaves/iterations:100/real_time", cancel_us, "us",
                    counters={"ns_per_1000_ops": cancel_us * 1e3})
    b += aggregates("BM_FloorHashFindWrite1000/real_time", floor_us, "us")
    b += aggregates("BM_CancelMany1000Families/iterations:100/real_time", families_us, "us")
    b += aggregates("BM_SqliteMem_CancelMany1000Families/real_time", families_mem_us, "us")
    b += aggregates("BM_FloorCancelFamilies/real_time", families_floor_us, "us")
    b += aggregates("BM_SubmitBatch1000/iterations:100/real_time", submit_us, "us")
    b += aggregates("BM_SqliteMem_SubmitBatch1000/iterations:50/real_time", submit_mem_us, "us")
    b += aggregates("BM_FloorSubmit1000/iterations:100/real_time", submit_floor_us, "us")
    b += aggregates("BM_Get/real_time", get_ns, "ns")
    b += aggregates("BM_SqliteMem_Get/real_time", get_mem_ns, "ns")
    b += aggregates("BM_FloorGet/real_time", get_floor_ns, "ns")
    for t, rate in ((1, claim1), (2, claim2), (8, claim8)):
        if rate is None:
            continue
        b += aggregates(f"BM_ClaimFinish/iterations:200000/real_time/threads:{t}", 1e9 / rate,
                        items=rate, threads=t)
        if t < 8:
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


def durability_json(full8=75e3, sqlite8=5e3, per_call8=None, full64=None, sqlite64=None,
                    normal8=None, sqlite_normal8=None, full8_counters=None):
    """cascade_durability_bench's single runs; the fsync floor is 100 us
    (appending), so the FULL bound is 80k/s with 8 callers, 640k/s with 64."""
    b = [single("BM_FloorFsync/append:1/min_time:1.000/real_time", 100.0, "us"),
         single("BM_FloorFsync/append:0/min_time:1.000/real_time", 80.0, "us")]
    for base, sync, t, rate in (("BM_DurableTransitions", 2, 8, full8),
                                ("BM_SqliteWal_DurableTransitions", 2, 8, sqlite8),
                                ("BM_PerCallTransitions", 2, 8, per_call8),
                                ("BM_DurableTransitions", 2, 64, full64),
                                ("BM_SqliteWal_DurableTransitions", 2, 64, sqlite64),
                                ("BM_DurableTransitions", 1, 8, normal8),
                                ("BM_SqliteWal_DurableTransitions", 1, 8, sqlite_normal8)):
        if rate is not None:
            b.append(single(f"{base}/sync:{sync}/min_time:2.000/real_time/threads:{t}",
                            1e9 * t / rate, items=rate, threads=t))
    if full8_counters is not None:  # the observed run of FULL, 8 callers
        b.append(single("BM_DurableTransitionsObserved/sync:2/min_time:2.000/real_time/threads:8",
                        1e9 * 8 / full8, items=full8, threads=8, counters=full8_counters))
    return document(b)


def http_json(rates=None, runs=2, skipped=None, error=None):
    """bench/http_benchmark.py's JSON: one iteration entry per run, as
    http_benchmark.entry writes them. `rates` maps (call, server) to the
    requests/s of every run; the defaults are GET floor 20k, memory 15k
    (75 %), full 10k, nexrender 800 (12.5x); POST floor 20k, memory 13k
    (65 %), full 3k, nexrender 25 (120x)."""
    rates = rates or {("HTTP_GetJob", "floor"): 20e3, ("HTTP_GetJob", "memory"): 15e3,
                      ("HTTP_GetJob", "full"): 10e3, ("HTTP_GetJob", "nexrender"): 800,
                      ("HTTP_PostJob", "floor"): 20e3, ("HTTP_PostJob", "memory"): 13e3,
                      ("HTTP_PostJob", "full"): 3e3, ("HTTP_PostJob", "nexrender"): 25}
    b = []
    for (call, server), rate in rates.items():
        for i in range(runs):
            # The runs straddle the rate: +-10 %, so the median is the rate.
            r = rate * (1 + (0.1 if i % 2 else -0.1)) if runs > 1 else rate
            if runs % 2 == 1 and i == runs - 1:
                r = rate
            run = {"rate": r, "requests": int(r * 10), "latency_mean_ms": 2.0,
                   "latency_p50_ms": 1.5, "latency_p99_ms": 9.0, "latency_max_ms": 30.0,
                   "server_cpu_us_per_request": 30.0, "wrk_cpu_us_per_request": 15.0,
                   "server_cores_busy": 0.9, "machine_cores_busy": 2.0,
                   "other_cores_busy": 0.25, "non_2xx": 0, "socket_errors": 0}
            if error == (call, server):
                run["non_2xx"] = 7
            b.append(http_benchmark.entry(report.http_name(call, server), i, runs, run))
    doc = document(b)
    doc["context"] = {"date": "2026-01-02T03:04:05+00:00", "num_cpus": 2,
                      "load_avg": [0.5, 0.4, 0.3], "client": "wrk 4.1.0",
                      "client_settings": "2 threads, 32 connections", "resident_jobs": 10000,
                      "get_body_bytes": 611, "post_body_bytes": 126,
                      "server_threads": "floor 2, memory 2, full 32, nexrender 1",
                      "nexrender_server": "@nexrender/server 1.38.0, Node.js v20"}
    if skipped:
        doc["context"]["nexrender_skipped"] = skipped
    return doc


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


def results(engine=None, durability=None, postgres=None, http=None):
    return report.Results(
        engine=report.parse(engine, "engine.json") if engine else None,
        durability=report.parse(durability, "durability.json") if durability else None,
        postgres=report.parse(postgres, "postgres.json") if postgres else None,
        http=report.parse(http, "http.json") if http else None)


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
        # SQLite 4 ms; the floor 25 us.
        met = results(engine_json(families_us=100, families_mem_us=4000))   # 40x, 4x floor
        missed = results(engine_json(families_us=200, families_mem_us=4000))  # 20x, 8x floor
        self.assertAlmostEqual(met.measured(row("2"), row("2").goals[0]), 40.0)
        self.assertAlmostEqual(met.measured(row("2"), row("2").goals[1]), 4.0)
        self.assertEqual(verdicts(met, row("2")), ["met", "met"])
        self.assertEqual(verdicts(missed, row("2")), ["MISSED", "MISSED"])

    def test_speedup_over_sqlite_for_throughput(self):
        r = row("6", "claim + finish cycle, 1")
        met = results(engine_json(claim1=2e6, claim_mem=50e3))    # 40x
        missed = results(engine_json(claim1=2e6, claim_mem=200e3))  # 10x
        self.assertAlmostEqual(met.measured(r, r.goals[0]), 40.0)
        self.assertEqual(verdicts(met, r), ["met"])
        self.assertEqual(verdicts(missed, r), ["MISSED"])

    def test_submit_against_sqlite_and_its_floor(self):
        # Contract §12: >= 10x SQLite in memory, <= 2x its floor (not a time).
        met = results(engine_json(submit_us=400, submit_mem_us=5000, submit_floor_us=250))
        self.assertEqual([g.kind for g in row("3").goals], ["speedup_mem", "floor_ratio"])
        self.assertAlmostEqual(met.measured(row("3"), row("3").goals[0]), 12.5)
        self.assertAlmostEqual(met.measured(row("3"), row("3").goals[1]), 1.6)
        self.assertEqual(verdicts(met, row("3")), ["met", "met"])
        slow = results(engine_json(submit_us=600, submit_mem_us=5000, submit_floor_us=250))
        self.assertEqual(verdicts(slow, row("3")), ["MISSED", "MISSED"])   # 8.3x, 2.4x
        # Without its floor, that goal alone is not measured.
        doc = engine_json()
        doc["benchmarks"] = [b for b in doc["benchmarks"]
                             if not b["run_name"].startswith("BM_FloorSubmit1000")]
        self.assertEqual(verdicts(results(doc), row("3")), ["met", report.NOT_MEASURED])

    def test_get_against_its_floor_and_sqlite(self):
        # Contract §12: <= 3x its floor (not <= 150 ns); >= 10x SQLite.
        met = results(engine_json(get_ns=100, get_mem_ns=2000, get_floor_ns=40))   # 2.5x, 20x
        missed = results(engine_json(get_ns=400, get_mem_ns=2000, get_floor_ns=40))  # 10x, 5x
        self.assertEqual([g.kind for g in row("4").goals], ["floor_ratio", "speedup_mem"])
        self.assertEqual(verdicts(met, row("4")), ["met", "met"])
        self.assertEqual(verdicts(missed, row("4")), ["MISSED", "MISSED"])
        # A fast engine over a faster floor still misses: the floor decides.
        fast = results(engine_json(get_ns=100, get_mem_ns=2000, get_floor_ns=20))   # 5x
        self.assertEqual(verdicts(fast, row("4")), ["MISSED", "met"])

    def test_scaling(self):
        r = row("6", "claim + finish cycle, 2")
        met = results(engine_json(claim1=2e6, claim2=3.4e6, claim_mem=10e3))  # 1.7x
        missed = results(engine_json(claim1=2e6, claim2=1e6, claim_mem=10e3))  # 0.5x
        self.assertEqual(verdicts(met, r), ["met", "met"])
        self.assertEqual(verdicts(missed, r), ["met", "MISSED"])
        self.assertAlmostEqual(missed.measured(r, r.goals[1]), 0.5)

    def test_eight_threads_never_slower_than_one(self):
        r = row("6", "claim + finish cycle, 8")
        self.assertEqual(r.engine, "BM_ClaimFinish/threads:8")
        self.assertEqual(verdicts(results(engine_json(claim1=2e6, claim8=2.1e6)), r), ["met"])
        self.assertEqual(verdicts(results(engine_json(claim1=2e6, claim8=2e6)), r), ["met"])
        self.assertEqual(verdicts(results(engine_json(claim1=2e6, claim8=1.5e6)), r),
                         ["MISSED"])
        # Not yet in cascade_bench: not measured, and no error.
        self.assertEqual(verdicts(results(engine_json(claim8=None)), r), [report.NOT_MEASURED])

    def test_max_bytes(self):
        self.assertEqual(verdicts(results(engine_json(bytes_per_job=200)), row("8")), ["met"])
        self.assertEqual(verdicts(results(engine_json(bytes_per_job=300)), row("8")), ["MISSED"])

    def test_durable_full_against_callers_over_one_fsync(self):
        r = row("9", "durable (WAL), FULL, 8 callers")
        self.assertEqual([g.kind for g in r.goals], ["floor_share", "speedup_wal"])
        met = results(durability=durability_json(full8=75e3, sqlite8=5e3))      # 0.94, 15x
        missed = results(durability=durability_json(full8=60e3, sqlite8=8e3))   # 0.75, 7.5x
        self.assertEqual(verdicts(met, r), ["met", "met"])
        self.assertEqual(verdicts(missed, r), ["MISSED", "MISSED"])
        # The bound is 8 callers over the appending fsync: 8 / 100 us.
        self.assertAlmostEqual(met.value(report.FSYNC_BOUND, "rate"), 80e3)
        self.assertAlmostEqual(met.measured(r, r.goals[0]), 75 / 80)
        # 50k/s is no longer the FULL goal: 60k/s is below 0.9 of the bound.
        self.assertEqual(verdicts(missed, r)[0], "MISSED")

    def test_durable_full_with_64_callers(self):
        r = row("9", "durable (WAL), FULL, 64")
        self.assertEqual(r.engine, "BM_DurableTransitions/sync:2/threads:64")
        res = results(durability=durability_json(full64=600e3, sqlite64=20e3))
        self.assertAlmostEqual(res.value(report.fsync_bound(64), "rate"), 640e3)
        self.assertEqual(verdicts(res, r), ["met", "met"])          # 0.94, 30x
        res = results(durability=durability_json(full64=300e3, sqlite64=20e3))
        self.assertEqual(verdicts(res, r), ["MISSED", "met"])       # 0.47
        # The program does not run 64 callers yet: not measured.
        self.assertEqual(verdicts(results(durability=durability_json()), r),
                         [report.NOT_MEASURED] * 2)

    def test_durable_normal_at_8_callers(self):
        r = row("9", "durable (WAL), NORMAL")
        self.assertEqual(r.engine, "BM_DurableTransitions/sync:1/threads:8")
        self.assertEqual(r.floor, "")
        met = results(durability=durability_json(normal8=60e3, sqlite_normal8=5e3))
        self.assertEqual(verdicts(met, r), ["met", "met"])
        missed = results(durability=durability_json(normal8=45e3, sqlite_normal8=5e3))
        self.assertEqual(verdicts(missed, r), ["MISSED", "MISSED"])   # 45k, 9x

    def test_durable_falls_back_on_the_per_call_store(self):
        r = row("9", "durable (WAL), FULL, 8")
        res = results(durability=durability_json(full8=75e3, sqlite8=None, per_call8=3e3))
        name, fell_back = res.wal_peer(r)
        self.assertTrue(fell_back)
        self.assertEqual(name, "BM_PerCallTransitions/sync:2/threads:8")
        self.assertEqual(verdicts(res, r), ["met", "met"])

    def test_http_rows(self):
        res = results(http=http_json())
        get_mem = row("10", "HTTP GET /jobs/{id}, in memory")
        get_full = row("10", "HTTP GET /jobs/{id}, data directory")
        post_mem = row("10", "HTTP POST /jobs, in memory")
        post_full = row("10", "HTTP POST /jobs, data directory")
        self.assertEqual(get_mem.engine, "HTTP_GetJob/server:memory")
        self.assertEqual(get_mem.floor, "HTTP_GetJob/server:floor")
        self.assertEqual(get_full.wal, "HTTP_GetJob/server:nexrender")
        # In memory against the floor: 75 % met, 65 % missed.
        self.assertAlmostEqual(res.measured(get_mem, get_mem.goals[0]), 0.75)
        self.assertEqual(verdicts(res, get_mem), ["met"])
        self.assertEqual(verdicts(res, post_mem), ["MISSED"])
        self.assertEqual(res.show_measured(post_mem, post_mem.goals[0]), "65.0 %")
        # With a data directory against nexrender-server: 12.5x >= 10x; 120x >= 100x.
        self.assertAlmostEqual(res.measured(get_full, get_full.goals[0]), 12.5)
        self.assertEqual(verdicts(res, get_full), ["met"])
        self.assertAlmostEqual(res.measured(post_full, post_full.goals[0]), 120)
        self.assertEqual(verdicts(res, post_full), ["met"])
        slow = {("HTTP_GetJob", "floor"): 20e3, ("HTTP_GetJob", "full"): 7e3,
                ("HTTP_GetJob", "nexrender"): 800, ("HTTP_PostJob", "full"): 2e3,
                ("HTTP_PostJob", "nexrender"): 25}
        res = results(http=http_json(slow))
        self.assertEqual(verdicts(res, get_full), ["MISSED"])    # 8.75x
        self.assertEqual(verdicts(res, post_full), ["MISSED"])   # 80x
        self.assertEqual(verdicts(res, get_mem), [report.NOT_MEASURED])   # no memory run

    def test_http_without_nexrender_is_not_measured(self):
        rates = {("HTTP_GetJob", "floor"): 20e3, ("HTTP_GetJob", "full"): 10e3}
        res = results(http=http_json(rates, skipped="npm ci failed: offline"))
        self.assertEqual(verdicts(res, row("10", "HTTP GET /jobs/{id}, data directory")),
                         [report.NOT_MEASURED])

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
        # Not a speed-up over SQLite: kept off the chart's speed-up panel, as
        # are the HTTP lines judged against their floor.
        self.assertFalse(r.in_chart)
        self.assertEqual([x.operation for x in report.spec_rows() if not x.in_chart],
                         ["HTTP GET /jobs/{id}, in memory", "HTTP POST /jobs, in memory",
                          r.operation])

    def test_missing_benchmarks_are_not_measured(self):
        res = results()
        for r in report.spec_rows():
            self.assertEqual(verdicts(res, r), [report.NOT_MEASURED] * len(r.goals),
                             r.operation)
            self.assertEqual(report._cell(res, r.engine, r.measure), report.NOT_MEASURED)


CONTRACT_ROWS = [
    "cancel 1000 leaf ids", "cancel 1000 ids, families of 1+10 (11k jobs)", "submit batch of 1000",
    "get by id", "batch aggregate read", "claim + finish cycle, 1 thread",
    "claim + finish cycle, 2 threads", "claim + finish cycle, 8 threads",
    "list, state filter, limit 50", "resident memory", "durable (WAL), FULL, 8 callers",
    "durable (WAL), FULL, 64 callers", "durable (WAL), NORMAL, 8 callers",
    "HTTP GET /jobs/{id}, in memory", "HTTP GET /jobs/{id}, data directory (FULL)",
    "HTTP POST /jobs, in memory", "HTTP POST /jobs, data directory (FULL)",
    "PostgreSQL store (§17), 64 callers",
]


class PageTest(unittest.TestCase):
    def page(self, engine=None, durability=None, fragments=None, postgres=None, http=None):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in (fragments or {}).items():
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
            args = argparse.Namespace(
                fragments=tmp, build_dir=os.path.join(tmp, "no-build"), command="bench/run.sh",
                ran=["build-bench/bench/cascade_bench --flags"], load_avg="0.10 0.20 0.30",
                out=os.path.join(tmp, "benchmarks.md"), png=os.path.join(tmp, "benchmarks.png"))
            return report.build_page(results(engine, durability, postgres, http), args,
                                     "no chart (test)")

    def spec_table(self, text):
        start = text.index("| # | operation |")
        return text[start:text.index("\n\n", start)].split("\n")[2:]

    def test_full_is_explained_by_the_sync_it_waits_for(self):
        # FULL's fsync runs on the store's sync thread: the observed bound is
        # what one sync covers over what it took, not the commit's time.
        counters = {"sync_us": 400.0, "groups_per_sync": 7.9, "commit_us": 45.0,
                    "groups_per_commit": 1.2}
        text = self.page(engine_json(), durability_json(full8_counters=counters))
        self.assertIn("FULL, 8 callers: a sync of the log took 400 µs and covered 7.90 "
                      "transitions: at most 19.8 k transitions/s", text)
        self.assertNotIn("a commit (its fsync)", text)

    def test_every_spec_row_is_on_the_page_with_its_ratio(self):
        text = self.page(engine_json(), durability_json(), postgres=postgres_json(),
                         http=http_json())
        table = self.spec_table(text)
        self.assertEqual(len(table), len(CONTRACT_ROWS))
        for words in CONTRACT_ROWS:
            self.assertTrue(any(f"| {words} |" in line for line in table), words)
        # Numbered as contract §12's table.
        self.assertEqual([line.split("|")[1].strip() for line in table],
                         ["1", "2", "3", "4", "5", "6", "6", "6", "7", "8", "9", "9", "9",
                          "10", "10", "10", "10", "11"])
        cancel = next(line for line in table if "| cancel 1000 leaf ids |" in line)
        self.assertIn("| 2.00× |", cancel)
        self.assertIn("≤ 3× floor: met", cancel)
        self.assertIn("60.0 µs (5 %)", cancel)
        durable = next(line for line in table if "| durable (WAL), FULL, 8 callers" in line)
        self.assertIn("15.0×", durable)
        self.assertIn("≤ 80.0 k/s (8 ÷ fsync 100.0 µs)", durable)
        self.assertIn("≥ 0.9× bound: met", durable)
        http = next(line for line in table if "| HTTP GET /jobs/{id}, data directory" in line)
        self.assertIn("| 10.0 k/s (14 %) |", http)   # the engine: cascade-server, FULL
        self.assertIn("| 800/s (14 %) |", http)      # nexrender-server, in the WAL column
        self.assertIn("| 12.5× |", http)
        self.assertIn("≥ 10× nexrender: met", http)
        http = next(line for line in table if "| HTTP POST /jobs, in memory" in line)
        self.assertIn("≥ 70 % of floor: **MISSED**", http)
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
        self.assertEqual(len(table), len(CONTRACT_ROWS))
        for line in table:
            self.assertIn(report.NOT_MEASURED, line)
        self.assertIn("In all: 0 met, 0 MISSED, 26 not measured.", text)
        self.assertIn("Not measured: `cascade_postgres_bench` was not in the run", text)
        self.assertIn("Not measured: `bench/http_benchmark.py` was not in the run", text)

    def test_http_section(self):
        text = self.page(engine_json(get_mem_ns=2000, submit_mem_us=5000), http=http_json(),
                         fragments={"http.md": "HTTP PROSE\n"})
        start = text.index("## cascade-server over HTTP (wrk)")
        section = text[start:text.index("\n## ", start + 1)]
        lines = section.split("\n")
        floor = next(line for line in lines if line.startswith("| HTTP floor"))
        self.assertIn("| 20.0 k/s (14 %) | 1.50 ms / 9.00 ms | 30.0 µs | 20.0 k/s", floor)
        nexrender = next(line for line in lines if line.startswith("| nexrender-server"))
        self.assertIn("| 800/s (14 %) |", nexrender)
        self.assertIn("| 25/s (14 %) |", nexrender)
        # SQLite's row for the same calls: 2 us a get, 5 ms a batch of 1000.
        sqlite = next(line for line in lines if line.startswith("| SQLite peer, in memory"))
        self.assertIn("| 500.0 k calls/s | 2.0 µs a call |", sqlite)
        self.assertIn("| 200.0 k jobs/s | 5.0 µs a job |", sqlite)
        ratios = next(line for line in lines if line.startswith("| GET /jobs/{id} |"))
        self.assertEqual(ratios, "| GET /jobs/{id} | 75.0 % | 50.0 % | 18.8× | 12.5× |")
        self.assertIn("HTTP POST /jobs, in memory: ≥ 70 % of the HTTP floor (a minimal "
                      "Boost.Beast server answering a fixed body): **MISSED** (measured 65.0 %)",
                      section)
        self.assertIn("wrk 4.1.0, 2 threads, 32 connections; 10,000 resident jobs in each "
                      "server", section)
        self.assertIn("611 B (GET) and 126 B (POST)", section)
        self.assertIn("0.25 cores in the median run", section)
        self.assertIn("HTTP PROSE", text)
        self.assertLess(start, text.index("HTTP PROSE"))
        self.assertIn("### `bench/http_benchmark.py`", text)   # every benchmark, listed

    def test_http_section_names_a_skipped_peer_and_failed_runs(self):
        rates = {("HTTP_GetJob", "floor"): 20e3, ("HTTP_GetJob", "memory"): 15e3,
                 ("HTTP_PostJob", "memory"): 13e3}
        text = self.page(http=http_json(rates, skipped="npm ci failed: offline",
                                        error=("HTTP_PostJob", "memory")))
        section = text[text.index("## cascade-server over HTTP (wrk)"):]
        self.assertIn("nexrender-server was not measured: npm ci failed: offline.", section)
        memory = next(line for line in section.split("\n")
                      if line.startswith("| cascade-server, in memory"))
        self.assertIn("error: 7 non-2xx answers", memory)

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


# wrk 4.1's report with --latency, as Debian's wrk prints it; the second with
# the lines wrk adds on errors.
WRK_OUT = """Running 1s test @ http://127.0.0.1:35281/api/v2/jobs
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.44ms    2.64ms  24.31ms   90.14%
    Req/Sec     7.85k     2.78k   10.52k    70.00%
  Latency Distribution
     50%  287.00us
     75%    1.57ms
     90%    4.03ms
     99%   13.00ms
  15885 requests in 1.03s, 10.60MB read
Requests/sec:  15473.35
Transfer/sec:     10.33MB
"""
WRK_ERRORS = """Running 10s test @ http://127.0.0.1:40001/api/v1/jobs
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   391.86ms  197.98ms    1.65s    84.25%
    Req/Sec    30.53     11.51    60.00     82.35%
  Latency Distribution
     50%  350.10ms
     75%  480.00ms
     90%  700.00ms
     99%    1.20s
  301 requests in 10.01s, 120.00KB read
  Socket errors: connect 0, read 1, write 0, timeout 7
  Non-2xx or 3xx responses: 3
Requests/sec:     30.07
Transfer/sec:     11.99KB
"""


class WrkTest(unittest.TestCase):
    """bench/http_benchmark.py: reading wrk's report, and one run as a
    Google Benchmark entry that report.parse reads."""

    def test_parses_rate_latency_and_counts(self):
        r = http_benchmark.parse_wrk(WRK_OUT)
        self.assertAlmostEqual(r["rate"], 15473.35)
        self.assertAlmostEqual(r["latency_mean_ms"], 1.44)
        self.assertAlmostEqual(r["latency_max_ms"], 24.31)
        self.assertAlmostEqual(r["latency_p50_ms"], 0.287)
        self.assertAlmostEqual(r["latency_p99_ms"], 13.0)
        self.assertEqual(r["requests"], 15885)
        self.assertEqual((r["non_2xx"], r["socket_errors"]), (0, 0))

    def test_parses_errors_and_seconds(self):
        r = http_benchmark.parse_wrk(WRK_ERRORS)
        self.assertAlmostEqual(r["rate"], 30.07)
        self.assertAlmostEqual(r["latency_max_ms"], 1650.0)
        self.assertAlmostEqual(r["latency_p99_ms"], 1200.0)
        self.assertEqual(r["requests"], 301)
        self.assertEqual(r["non_2xx"], 3)
        self.assertEqual(r["socket_errors"], 8)

    def test_a_report_without_a_rate_is_refused(self):
        with self.assertRaises(http_benchmark.Failure):
            http_benchmark.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")
        with self.assertRaises(http_benchmark.Failure):
            http_benchmark.parse_wrk(WRK_OUT.replace("24.31ms", "24.31parsecs"))

    def test_a_run_is_an_entry_report_reads(self):
        run = dict(http_benchmark.parse_wrk(WRK_OUT), server_cpu_us_per_request=40.0,
                   wrk_cpu_us_per_request=20.0, server_cores_busy=0.6,
                   machine_cores_busy=2.0, other_cores_busy=0.1)
        e = http_benchmark.entry("HTTP_GetJob/server:memory", 0, 1, run)
        f = report.parse(document([e])).figures["HTTP_GetJob/server:memory"]
        self.assertAlmostEqual(f.rate, 15473.35)
        self.assertAlmostEqual(f.real_ns, 1e9 / 15473.35)
        self.assertAlmostEqual(f.cpu_ns, 40e3)
        self.assertAlmostEqual(f.counters["latency_p99_ms"], 13.0)
        self.assertAlmostEqual(f.counters["other_cores_busy"], 0.1)
        self.assertNotIn("error_occurred", e)

    def test_a_run_with_non_2xx_answers_is_an_error(self):
        run = dict(http_benchmark.parse_wrk(WRK_ERRORS), server_cpu_us_per_request=1.0,
                   wrk_cpu_us_per_request=1.0)
        e = http_benchmark.entry("HTTP_PostJob/server:nexrender", 0, 1, run)
        p = report.parse(document([e]))
        self.assertNotIn("HTTP_PostJob/server:nexrender", p.figures)
        self.assertEqual(p.errors["HTTP_PostJob/server:nexrender"], "3 non-2xx answers")


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
