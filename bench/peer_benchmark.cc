// Copyright 2026 The Cascade Authors.
//
// File: bench/peer_benchmark.cc
// -----------------------------------------------------------------------------
// The SQLite peer of contract §12 (bench/sqlite_peer.h, bench/report/peer.md),
// in the same program and run as the engine and its floor
// (engine_benchmark.cc), with the same workloads, so that each engine row
// has its peer rows beside it. Two peers: `Mem`, an in-memory database
// (":memory:"), and `Wal`, a file in WAL mode with synchronous=NORMAL, in a
// new directory under $CASCADE_BENCH_DIR (default: the system temp
// directory), removed when the process exits.
//
// Every benchmark but ClaimFinish shares one database per peer, built once
// per process the first time one of them runs, like the engine's Resident:
// 1000 SubmitBatch calls of 1000 queued leaf jobs (template id "tpl-1", no
// tags) for team "bench", on a ManualClock starting at 1,700,000,000 s and
// advanced 1 ms per batch, with id seed 42: the engine's very jobs, with its
// very ids. Ids are chosen outside the timed region, from the same kind of
// pools as the engine's (below).
//
//   BM_SqliteMem_SubmitBatch1000          SubmitBatch(team, 1000 leaf specs)
//   BM_SqliteWal_SubmitBatch1000          into the peer holding ~1M jobs (it
//                                         grows as this runs): one
//                                         transaction. Beside
//                                         BM_SubmitBatch1000.
//   BM_SqliteMem_Get                      Get(team, random id): one SELECT
//   BM_SqliteWal_Get                      by primary key, every column
//                                         copied out. Beside BM_Get.
//   BM_SqliteMem_CancelMany1000Leaves     CancelMany(team, 1000 random
//   BM_SqliteWal_CancelMany1000Leaves     queued leaf ids). Beside
//                                         BM_CancelMany1000Leaves.
//   BM_SqliteMem_CancelMany1000Families   CancelMany(team, the 1000 parents
//   BM_SqliteWal_CancelMany1000Families   of 1000 families of 1 parent + 10
//                                         children): 11,000 jobs cancelled
//                                         per call (rule U cancels the
//                                         children). The families (one
//                                         SubmitBatch of 1000 specs) are
//                                         submitted with timing paused.
//   BM_SqliteMem_BatchAggregate           GetBatchCounts(team, random batch
//   BM_SqliteWal_BatchAggregate           of the 1000 resident batches of
//                                         1000): SELECT state, count(*)
//                                         over the covering batch index.
//                                         Beside BM_BatchAggregate.
//   BM_SqliteMem_BatchAggregateCountsTable
//                                         The same read from a batch_counts
//                                         table kept by triggers
//                                         (SqlitePeerOptions::
//                                         batch_counts_table), on an
//                                         in-memory database of its own
//                                         built the same way: what the
//                                         aggregate costs a peer that pays
//                                         for it on every write instead.
//   BM_SqliteMem_ClaimFinish/threads:1    One worker cycle, Claim (the
//   BM_SqliteMem_ClaimFinish/threads:2    oldest queued job) then Finish,
//   BM_SqliteWal_ClaimFinish/threads:1    each its own transaction, from 1
//   BM_SqliteWal_ClaimFinish/threads:2    or 2 threads at once;
//                                         items_per_second is cycles per
//                                         second over all threads. In
//                                         memory the threads share the one
//                                         connection (under a mutex); the
//                                         file has a connection per thread.
//                                         A database of its own per peer
//                                         (below). Beside BM_ClaimFinish.
//   BM_SqliteMem_List50                   List(team, state = queued, limit
//   BM_SqliteWal_List50                   50): the team's 50 oldest queued
//                                         jobs, every column, over the
//                                         (team, state, id) index.
//   BM_SqliteMem_List50Cancelled          The same with state =
//   BM_SqliteWal_List50Cancelled          manually_cancelled: jobs the
//                                         cancel benchmarks left scattered
//                                         over the whole table, so the 50
//                                         rows sit on ~50 different pages
//                                         (the queued page's rows share a
//                                         few). Runs after the cancel
//                                         benchmarks have cancelled some
//                                         (it cancels 1000 itself if none).
//   BM_SqliteMem_ResidentBytes            One iteration reporting, for the
//   BM_SqliteWal_ResidentBytes            database as built (exactly 1M
//                                         jobs): bytes_per_job, SQLite's
//                                         heap (sqlite3_memory_used) in
//                                         memory, the database file (after a
//                                         checkpoint) for Wal; and for Wal,
//                                         cache_bytes_per_job, the heap its
//                                         page cache took while building.
//   BM_SqliteMem_CancelFamilySize/k       CancelMany(team, 100 roots of
//   BM_SqliteWal_CancelFamilySize/k       families of 1 + k, k in 1, 2, 5,
//                                         10, 20, 50, 100), submitted with
//                                         timing paused; jobs_per_call =
//                                         100 (1 + k).
//
// The 1000-operation rows are in microseconds and carry ns_per_1000_ops
// where the engine's do; Get, the aggregate and the claim cycle in
// nanoseconds.
//
// Pools, as the engine's: CancelMany1000Leaves draws from 800,000 of the
// initial jobs shuffled over the whole million (refilled, 100,000 new jobs
// at a time, with timing paused); Get reads the other 200,000, which no
// benchmark cancels. A ClaimFinish database starts with enough queued leaf
// jobs for 5 repetitions at 1 and at 2 threads (20,000 cycles per thread in
// memory, 5,000 for Wal: 300,000 and 75,000 jobs); a run that would need
// more submits more before its loop.
//
// Example:
//
//   build-bench/bench/cascade_bench --benchmark_filter=Sqlite
//   build-bench/bench/cascade_bench --benchmark_filter='Get|SqliteMem_Get'
//   CASCADE_BENCH_DIR=/var/tmp build-bench/bench/cascade_bench --benchmark_filter=SqliteWal

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bench/bench_common.h"
#include "bench/bench_dir.h"
#include "bench/sqlite_peer.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"

namespace cascade {
namespace {

using ::cascade::bench::AtomicClock;
using ::cascade::bench::Die;
using ::cascade::bench::kBatchSize;
using ::cascade::bench::kIdSeed;
using ::cascade::bench::kReadSetSize;
using ::cascade::bench::kResidentJobs;
using ::cascade::bench::kShuffleSeed;
using ::cascade::bench::kTeam;
using ::cascade::bench::LeafSpec;
using ::cascade::bench::NowNanos;
using ::cascade::bench::NsPerIteration;
using ::cascade::bench::Shuffle;

using bench::PeerJob;
using bench::SqlitePeer;
using bench::SqlitePeerOptions;

// Iterations per repetition. SQLite takes milliseconds where the engine
// takes microseconds, so these are fewer than the engine's: enough for a
// stable mean (each 1000-operation iteration is itself an average), few
// enough that one repetition of every peer row takes about two minutes
// here (the Wal rows wait for checkpoints' syncs).
constexpr int kSubmitIterations = 50;        // +50,000 jobs per repetition
constexpr int kCancelIterations = 20;        // 20,000 jobs of the pool
constexpr int kFamilyIterations = 5;         // 55,000 jobs submitted, cancelled
constexpr int kFamilySizeIterations = 5;     // 500 (1 + k) jobs
constexpr int kMemClaimIterations = 20'000;  // cycles per thread (~30 us each)
constexpr int kWalClaimIterations = 5'000;   // cycles per thread (~300 us each)
// Queued jobs a claim database starts with: 5 repetitions at 1 thread and 5
// at 2 threads, 5 x (1 + 2) x the iterations.
constexpr int kClaimRuns = 15;
constexpr size_t kFamilyChildren = 10;
constexpr size_t kFamilySizeRoots = 100;

enum class Kind { kMem, kWal, kMemCountsTable };

JobSpec FamilySpec(size_t children) {
  JobSpec parent = LeafSpec();
  parent.children.assign(children, LeafSpec());
  return parent;
}

// The directories of the Wal databases, removed at exit (the peers are
// never closed, like the engine's Resident; their files go with the
// process).
std::mutex dirs_mu;
std::vector<std::string>* dirs = nullptr;

void RemoveDirs() {
  std::lock_guard<std::mutex> lock(dirs_mu);
  if (dirs == nullptr) return;
  for (const std::string& dir : *dirs) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
}

// Options for a peer of `kind` on `clock`; a file in a new directory for
// kWal.
SqlitePeerOptions OptionsFor(Kind kind, Clock* clock, const char* name) {
  SqlitePeerOptions options;
  options.clock = clock;
  options.id_seed = kIdSeed;
  options.batch_counts_table = kind == Kind::kMemCountsTable;
  if (kind == Kind::kWal) {
    const std::string dir = bench::MakeRunDir("cascade-peer-bench");
    {
      std::lock_guard<std::mutex> lock(dirs_mu);
      if (dirs == nullptr) {
        dirs = new std::vector<std::string>();
        std::atexit(RemoveDirs);
      }
      dirs->push_back(dir);
    }
    options.path = dir + "/" + name + ".db";
    options.sync = SqlitePeerOptions::Sync::kNormal;
  }
  return options;
}

// A peer's 1M-job database. Built on first use; never destroyed.
class Resident {
 public:
  static Resident& Get(Kind kind) {
    static Resident* residents[3] = {nullptr, nullptr, nullptr};
    Resident*& r = residents[static_cast<int>(kind)];
    if (r == nullptr) r = new Resident(kind);
    return *r;
  }

  SqlitePeer& peer() { return *peer_; }
  const std::vector<JobId>& read_set() const { return read_set_; }
  const std::vector<BatchId>& batches() const { return batches_; }
  int64_t refill_nanos() const { return refill_nanos_; }
  double heap_bytes_per_job() const { return heap_bytes_per_job_; }
  double file_bytes_per_job() const { return file_bytes_per_job_; }
  double build_seconds() const { return build_seconds_; }

  // As the engine's Resident::NextCancelIds.
  absl::Span<const JobId> NextCancelIds(benchmark::State* state) {
    if (pool_next_ + kBatchSize > pool_.size()) {
      if (state != nullptr) state->PauseTiming();
      const int64_t start = NowNanos();
      pool_ = SubmitLeaves(100'000, nullptr);
      Shuffle(pool_, rng_);
      pool_next_ = 0;
      refill_nanos_ += NowNanos() - start;
      if (state != nullptr) state->ResumeTiming();
    }
    absl::Span<const JobId> ids(pool_.data() + pool_next_, kBatchSize);
    pool_next_ += kBatchSize;
    return ids;
  }

  // Submits `count` families of 1 + `children` in one batch; returns the
  // parents' ids.
  std::vector<JobId> SubmitFamilies(size_t count, size_t children) {
    clock_.Advance(absl::Milliseconds(1));
    const std::vector<JobSpec> specs(count, FamilySpec(children));
    auto result = peer_->SubmitBatch(kTeam, specs);
    if (!result.ok()) Die("SubmitBatch", result.status());
    if (result->jobs.size() != count) Die("SubmitBatch", absl::InternalError("a spec failed"));
    std::vector<JobId> parents;
    parents.reserve(count);
    for (const bench::PeerBatchEntry& entry : result->jobs) parents.push_back(entry.job.id);
    return parents;
  }

 private:
  explicit Resident(Kind kind) : clock_(absl::FromUnixSeconds(1'700'000'000)), rng_(kShuffleSeed) {
    const int64_t heap_before = SqlitePeer::MemoryUsed();
    const int64_t start = NowNanos();
    auto peer = SqlitePeer::Open(OptionsFor(kind, &clock_, "resident"));
    if (!peer.ok()) Die("SqlitePeer::Open", peer.status());
    peer_ = *std::move(peer);
    std::vector<JobId> all = SubmitLeaves(kResidentJobs, &batches_);
    build_seconds_ = static_cast<double>(NowNanos() - start) / 1e9;
    if (absl::Status s = peer_->Checkpoint(); !s.ok()) Die("Checkpoint", s);
    heap_bytes_per_job_ =
        static_cast<double>(SqlitePeer::MemoryUsed() - heap_before) / kResidentJobs;
    file_bytes_per_job_ = static_cast<double>(peer_->FileBytes()) / kResidentJobs;
    Shuffle(all, rng_);
    Shuffle(batches_, rng_);
    read_set_.assign(all.begin(), all.begin() + kReadSetSize);
    pool_.assign(all.begin() + kReadSetSize, all.end());
  }

  std::vector<JobId> SubmitLeaves(size_t n, std::vector<BatchId>* batch_ids) {
    const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
    std::vector<JobId> ids;
    ids.reserve(n);
    for (size_t done = 0; done < n; done += kBatchSize) {
      clock_.Advance(absl::Milliseconds(1));
      auto result = peer_->SubmitBatch(kTeam, specs);
      if (!result.ok()) Die("SubmitBatch", result.status());
      if (result->jobs.size() != kBatchSize) {
        Die("SubmitBatch", absl::InternalError("not every spec was created"));
      }
      for (const bench::PeerBatchEntry& entry : result->jobs) ids.push_back(entry.job.id);
      if (batch_ids != nullptr) batch_ids->push_back(result->batch_id);
    }
    return ids;
  }

  ManualClock clock_;
  std::mt19937_64 rng_;
  std::unique_ptr<SqlitePeer> peer_;
  std::vector<JobId> read_set_;
  std::vector<BatchId> batches_;
  std::vector<JobId> pool_;
  size_t pool_next_ = 0;
  int64_t refill_nanos_ = 0;
  double heap_bytes_per_job_ = 0;
  double file_bytes_per_job_ = 0;
  double build_seconds_ = 0;
};

// ---- Submit, read, cancel ------------------------------------------------------

void SubmitBatch1000(benchmark::State& state, Kind kind) {
  SqlitePeer& peer = Resident::Get(kind).peer();
  const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
  for (auto _ : state) {
    auto created = peer.SubmitBatch(kTeam, specs);
    if (!created.ok() || created->jobs.size() != kBatchSize) {
      state.SkipWithError(created.ok() ? "SubmitBatch did not create every job"
                                       : created.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(created);
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
}
void BM_SqliteMem_SubmitBatch1000(benchmark::State& state) { SubmitBatch1000(state, Kind::kMem); }
void BM_SqliteWal_SubmitBatch1000(benchmark::State& state) { SubmitBatch1000(state, Kind::kWal); }

void GetJob(benchmark::State& state, Kind kind) {
  Resident& resident = Resident::Get(kind);
  const SqlitePeer& peer = resident.peer();
  const std::vector<JobId>& ids = resident.read_set();
  size_t next = 0;
  for (auto _ : state) {
    auto job = peer.Get(kTeam, ids[next]);
    if (++next == ids.size()) next = 0;
    if (!job.ok()) {
      state.SkipWithError(job.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(job);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_SqliteMem_Get(benchmark::State& state) { GetJob(state, Kind::kMem); }
void BM_SqliteWal_Get(benchmark::State& state) { GetJob(state, Kind::kWal); }

void CancelLeaves(benchmark::State& state, Kind kind) {
  Resident& resident = Resident::Get(kind);
  SqlitePeer& peer = resident.peer();
  absl::Span<const JobId> ids = resident.NextCancelIds(nullptr);
  const int64_t refill_before = resident.refill_nanos();
  const int64_t start = NowNanos();
  for (auto _ : state) {
    auto cancelled = peer.CancelMany(kTeam, ids);
    if (!cancelled.ok() || cancelled->size() != kBatchSize) {
      state.SkipWithError(cancelled.ok() ? "CancelMany cancelled an unexpected number of jobs"
                                         : cancelled.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cancelled);
    ids = resident.NextCancelIds(&state);
  }
  const int64_t loop_nanos = NowNanos() - start - (resident.refill_nanos() - refill_before);
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.counters["ns_per_1000_ops"] = NsPerIteration(loop_nanos);
}
void BM_SqliteMem_CancelMany1000Leaves(benchmark::State& state) { CancelLeaves(state, Kind::kMem); }
void BM_SqliteWal_CancelMany1000Leaves(benchmark::State& state) { CancelLeaves(state, Kind::kWal); }

// CancelMany of `roots` parents of families of 1 + `children`, submitted with
// timing paused before each call.
void CancelFamilies(benchmark::State& state, Kind kind, size_t roots, size_t children) {
  Resident& resident = Resident::Get(kind);
  SqlitePeer& peer = resident.peer();
  const size_t per_call = roots * (1 + children);
  for (auto _ : state) {
    state.PauseTiming();
    const std::vector<JobId> parents = resident.SubmitFamilies(roots, children);
    state.ResumeTiming();
    auto cancelled = peer.CancelMany(kTeam, parents);
    if (!cancelled.ok() || cancelled->size() != per_call) {
      state.SkipWithError(cancelled.ok() ? "CancelMany cancelled an unexpected number of jobs"
                                         : cancelled.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cancelled);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(per_call));
  state.counters["jobs_per_call"] = static_cast<double>(per_call);
}
void BM_SqliteMem_CancelMany1000Families(benchmark::State& state) {
  CancelFamilies(state, Kind::kMem, kBatchSize, kFamilyChildren);
}
void BM_SqliteWal_CancelMany1000Families(benchmark::State& state) {
  CancelFamilies(state, Kind::kWal, kBatchSize, kFamilyChildren);
}
void BM_SqliteMem_CancelFamilySize(benchmark::State& state) {
  CancelFamilies(state, Kind::kMem, kFamilySizeRoots, static_cast<size_t>(state.range(0)));
}
void BM_SqliteWal_CancelFamilySize(benchmark::State& state) {
  CancelFamilies(state, Kind::kWal, kFamilySizeRoots, static_cast<size_t>(state.range(0)));
}

void BatchAggregate(benchmark::State& state, Kind kind) {
  Resident& resident = Resident::Get(kind);
  const SqlitePeer& peer = resident.peer();
  const std::vector<BatchId>& batches = resident.batches();
  size_t next = 0;
  for (auto _ : state) {
    auto counts = peer.GetBatchCounts(kTeam, batches[next]);
    if (++next == batches.size()) next = 0;
    if (!counts.ok()) {
      state.SkipWithError(counts.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(counts);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_SqliteMem_BatchAggregate(benchmark::State& state) { BatchAggregate(state, Kind::kMem); }
void BM_SqliteWal_BatchAggregate(benchmark::State& state) { BatchAggregate(state, Kind::kWal); }
void BM_SqliteMem_BatchAggregateCountsTable(benchmark::State& state) {
  BatchAggregate(state, Kind::kMemCountsTable);
}

void List50(benchmark::State& state, Kind kind, JobState filter) {
  Resident& resident = Resident::Get(kind);
  SqlitePeer& peer = resident.peer();
  if (filter == JobState::kCancelled) {
    auto some = peer.List(kTeam, filter, 50);
    if (some.ok() && some->size() < 50) {
      auto cancelled = peer.CancelMany(kTeam, resident.NextCancelIds(nullptr));
      if (!cancelled.ok()) Die("CancelMany", cancelled.status());
    }
  }
  for (auto _ : state) {
    auto jobs = peer.List(kTeam, filter, 50);
    if (!jobs.ok() || jobs->size() != 50) {
      state.SkipWithError(jobs.ok() ? "List returned fewer than 50 jobs"
                                    : jobs.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(jobs);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_SqliteMem_List50(benchmark::State& state) { List50(state, Kind::kMem, JobState::kQueued); }
void BM_SqliteWal_List50(benchmark::State& state) { List50(state, Kind::kWal, JobState::kQueued); }
void BM_SqliteMem_List50Cancelled(benchmark::State& state) {
  List50(state, Kind::kMem, JobState::kCancelled);
}
void BM_SqliteWal_List50Cancelled(benchmark::State& state) {
  List50(state, Kind::kWal, JobState::kCancelled);
}

void ResidentBytes(benchmark::State& state, Kind kind) {
  Resident& resident = Resident::Get(kind);
  for (auto _ : state) benchmark::DoNotOptimize(resident.heap_bytes_per_job());
  if (kind == Kind::kWal) {
    state.counters["bytes_per_job"] = resident.file_bytes_per_job();
    state.counters["cache_bytes_per_job"] = resident.heap_bytes_per_job();
  } else {
    state.counters["bytes_per_job"] = resident.heap_bytes_per_job();
  }
  state.counters["build_seconds"] = resident.build_seconds();
}
void BM_SqliteMem_ResidentBytes(benchmark::State& state) { ResidentBytes(state, Kind::kMem); }
void BM_SqliteWal_ResidentBytes(benchmark::State& state) { ResidentBytes(state, Kind::kWal); }

BENCHMARK(BM_SqliteMem_SubmitBatch1000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kSubmitIterations);
BENCHMARK(BM_SqliteWal_SubmitBatch1000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kSubmitIterations);
BENCHMARK(BM_SqliteMem_Get)->Unit(benchmark::kNanosecond)->UseRealTime();
BENCHMARK(BM_SqliteWal_Get)->Unit(benchmark::kNanosecond)->UseRealTime();
BENCHMARK(BM_SqliteMem_CancelMany1000Leaves)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kCancelIterations);
BENCHMARK(BM_SqliteWal_CancelMany1000Leaves)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kCancelIterations);
BENCHMARK(BM_SqliteMem_CancelMany1000Families)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kFamilyIterations);
BENCHMARK(BM_SqliteWal_CancelMany1000Families)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kFamilyIterations);
BENCHMARK(BM_SqliteMem_BatchAggregate)->Unit(benchmark::kNanosecond)->UseRealTime();
BENCHMARK(BM_SqliteWal_BatchAggregate)->Unit(benchmark::kNanosecond)->UseRealTime();
BENCHMARK(BM_SqliteMem_BatchAggregateCountsTable)->Unit(benchmark::kNanosecond)->UseRealTime();
BENCHMARK(BM_SqliteMem_List50)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SqliteWal_List50)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SqliteMem_List50Cancelled)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SqliteWal_List50Cancelled)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SqliteMem_ResidentBytes)->Iterations(1);
BENCHMARK(BM_SqliteWal_ResidentBytes)->Iterations(1);

void FamilySizes(benchmark::internal::Benchmark* b) {
  for (int k : {1, 2, 5, 10, 20, 50, 100}) b->Arg(k);
  b->Unit(benchmark::kMicrosecond)->UseRealTime()->Iterations(kFamilySizeIterations);
}
BENCHMARK(BM_SqliteMem_CancelFamilySize)->Apply(FamilySizes);
BENCHMARK(BM_SqliteWal_CancelFamilySize)->Apply(FamilySizes);

// ---- Workers ------------------------------------------------------------------

// The claim benchmark's database: queued leaf jobs, built like the
// resident's but separate from it, because every cycle turns a queued job
// into a finished one. Built on first use; never destroyed.
class ClaimQueue {
 public:
  static ClaimQueue& Get(Kind kind) {
    static ClaimQueue* queues[2] = {nullptr, nullptr};
    ClaimQueue*& q = queues[kind == Kind::kWal ? 1 : 0];
    if (q == nullptr) q = new ClaimQueue(kind);
    return *q;
  }

  SqlitePeer& peer() { return *peer_; }

  // As the engine's ClaimQueue::Reserve; also opens a connection per thread
  // (a file), so that none is opened inside the timed loop.
  void Reserve(size_t n, int threads) {
    while (unreserved_ < n) SubmitBatch();
    unreserved_ -= n;
    if (absl::Status s = peer_->Warm(static_cast<size_t>(threads)); !s.ok()) Die("Warm", s);
  }

 private:
  explicit ClaimQueue(Kind kind) {
    auto peer = SqlitePeer::Open(OptionsFor(kind, &clock_, "claim"));
    if (!peer.ok()) Die("SqlitePeer::Open", peer.status());
    peer_ = *std::move(peer);
    const size_t initial =
        kClaimRuns *
        static_cast<size_t>(kind == Kind::kWal ? kWalClaimIterations : kMemClaimIterations);
    while (unreserved_ < initial) SubmitBatch();
  }

  void SubmitBatch() {
    clock_.AdvanceMillis(1);
    auto result = peer_->SubmitBatch(kTeam, specs_);
    if (!result.ok()) Die("SubmitBatch", result.status());
    unreserved_ += result->jobs.size();
  }

  const std::vector<JobSpec> specs_ = std::vector<JobSpec>(kBatchSize, LeafSpec());
  AtomicClock clock_;
  std::unique_ptr<SqlitePeer> peer_;
  size_t unreserved_ = 0;
};

// Busy-handler sleeps when thread 0 started its loop (read again after it).
uint64_t busy_waits_before = 0;

void ClaimFinish(benchmark::State& state, Kind kind) {
  ClaimQueue& queue = ClaimQueue::Get(kind);
  SqlitePeer& peer = queue.peer();
  if (state.thread_index() == 0) {
    queue.Reserve(static_cast<size_t>(state.max_iterations) * state.threads(), state.threads());
    busy_waits_before = peer.stats().busy_waits;
  }
  for (auto _ : state) {
    if (absl::Status cycle = bench::ClaimThenFinish(peer); !cycle.ok()) {
      state.SkipWithError(cycle.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0 && kind == Kind::kWal && state.iterations() > 0) {
    // Sleeps in the busy handler per cycle, over all threads (the other
    // threads may still be in their last cycle: near enough).
    state.counters["busy_waits_per_cycle"] =
        static_cast<double>(peer.stats().busy_waits - busy_waits_before) /
        static_cast<double>(state.iterations() * state.threads());
  }
}
void BM_SqliteMem_ClaimFinish(benchmark::State& state) { ClaimFinish(state, Kind::kMem); }
void BM_SqliteWal_ClaimFinish(benchmark::State& state) { ClaimFinish(state, Kind::kWal); }

BENCHMARK(BM_SqliteMem_ClaimFinish)
    ->Unit(benchmark::kNanosecond)
    ->UseRealTime()
    ->Iterations(kMemClaimIterations)
    ->Threads(1)
    ->Threads(2);
BENCHMARK(BM_SqliteWal_ClaimFinish)
    ->Unit(benchmark::kNanosecond)
    ->UseRealTime()
    ->Iterations(kWalClaimIterations)
    ->Threads(1)
    ->Threads(2);

}  // namespace
}  // namespace cascade
