// Copyright 2026 The Cascade Authors.
//
// File: bench/durability_benchmark.cc
// -----------------------------------------------------------------------------
// Durable, acknowledged job transitions per second through the whole engine
// (contract §10, §12's row "durable (WAL), 8 and 64 callers": under FULL
// >= 0.9 x (callers / one fsync), under NORMAL >= 50k acknowledged
// transitions/s, >= 10x one-transaction-per-call SQLite), beside the same
// engine over a store that commits one transaction per call, the same loop
// in memory, and the disk's own fsync. (cascade_store_bench makes the same
// comparison at the store alone, without the engine.)
//
// The workload is a worker's cycle: Claim({}) of the oldest queued leaf job,
// then Finish(id, token, {}). That is 2 state transitions (queued ->
// rendering -> finished) in 2 engine calls, and each call returns only once
// the rows it changed (the job's row and its lease's) are durable under the
// run's sync setting. T threads run the cycle at once on ONE engine.
// items_per_second is acknowledged transitions per second over all threads
// (2 per cycle, wall clock); the time column is wall time per cycle over all
// threads. (bench/transitions.h holds the cycle and the queue's filling,
// shared with cascade_postgres_bench, which runs them on PostgreSQL.)
//
// The queue never runs dry: before the timed loop, thread 0 makes a fresh
// engine and submits max_iterations x T queued leaf jobs (SubmitBatch of
// 1000, template id only, the clock advanced 1 ms per batch), i.e. every job
// the run can claim; the other threads are held at Google Benchmark's start
// barrier meanwhile. Submitting is neither timed nor counted. (The other
// design, each thread submitting its own job then claiming and finishing it,
// would put a submit into every cycle, which a worker does not do, and let a
// thread claim another thread's job.) Every run (every step of Google
// Benchmark's iteration ramp, every repetition, every thread count) gets a
// fresh engine in a new directory under $CASCADE_BENCH_DIR (default: the
// system temp directory), removed afterwards; the directory and its file
// system are printed in the context. On tmpfs fsync is free and FULL
// measures nothing. The clock is manual (one relaxed atomic load, never
// advanced during the loop): no lease expires and the engine runs no
// background thread besides the store's own (writer, sync, checkpoint).
//
//   BM_DurableTransitions/sync:S/min_time:2.000/real_time/threads:T
//       The engine as Engine::Create makes it with durability.data_dir set:
//       the SQLite store with group commit (concurrent callers share a
//       transaction and its fsync).
//   BM_PerCallTransitions/sync:S/min_time:2.000/real_time/threads:T
//       The peer: the same engine (internal::CreateEngine) over PerCallStore,
//       the same SQLite store whose Append commits the group in a
//       transaction of its own before it returns. The engine calls Append
//       under its writer lock, so this is one transaction (and under FULL one
//       fsync) per call, committed inside the lock: nothing is shared. NOTE:
//       the inner store commits on its writer thread, so each call also pays
//       a hand-off to that thread and back (as BM_DurableTransitions does
//       with 1 caller); a hand-written per-call store commits on the
//       caller's thread (cascade_store_bench's BM_PerCallCommit).
//   BM_InMemoryTransitions/iterations:N/real_time/threads:T
//       The same loop with no data directory: the engine's own cost, for
//       context. N = 50,000, and 5,000 with 64 threads (the queue holds
//       N x T jobs).
//   BM_DurableTransitionsObserved/sync:S/min_time:2.000/real_time/threads:T
//       Diagnostic: BM_DurableTransitions's engine and store (opened with
//       the store's test seams, internal::CreateEngine) behind a pass-through
//       wrapper that times each call's phases (a few clock reads per call and
//       per commit). Counters, per engine call (= group = transition):
//         pre_append_us    the call's start to its Append: the engine's lock
//                          wait, its work and the JSON encoding of the rows
//         wait_us          WaitDurable: the commit, the sync under FULL, the
//                          wake-up
//         wake_us          from the acknowledgement that covered the call
//                          (the commit under NORMAL, the sync under FULL,
//                          once its waiters were woken; or WaitDurable's
//                          start, if later) to WaitDurable's return: the
//                          caller's wake-up (0 when the caller woke first)
//         post_us          WaitDurable's return to the call's return
//       per commit of the store's writer thread (StoreStats and a probe on
//       the store's seams, see WriterProbe):
//         groups_per_commit, commits_per_second
//         commit_us        BEGIN to the end of COMMIT: the log written (and
//                          under FULL not yet synced; the sync is the sync
//                          thread's), without checkpoints
//         commit_cpu_us    the writer's CPU from BEGIN to having handed the
//                          commit on (under NORMAL: woken its waiters)
//         commit_blocks    times the writer slept in that time
//         commit_preempts  times the scheduler took its core away
//         pages_per_commit log frames (4 KiB pages) a commit wrote
//       per sync of the store's sync thread (FULL only):
//         groups_per_sync  callers a sync acknowledged: the sharing of an
//                          fsync (T means every waiting caller)
//         syncs_per_second, sync_us (fdatasync of the log)
//         syncer_busy      syncs' wall time / loop time
//       and over the loop:
//         checkpoints      checkpoints (log copied into the file and both
//                          synced), run by the store's checkpoint thread
//         checkpoint_share the writer's part of them (the last frames, so
//                          the log starts over) / the loop's wall time
//         checkpointer_busy the checkpoint thread's time / loop time
//         writer_busy      (commits + the writer's checkpoint part) / loop
//         writer_gap_us    mean time from a commit's hand-off to the next
//                          commit's start: the writer waiting for groups
//   BM_FloorFsync/append:A/min_time:1.000/real_time
//       The disk's floor, in the same directory: pwrite 4 KiB then fdatasync,
//       over a preallocated 4 MiB file (A = 0: the size never changes, as
//       SQLite's WAL once it wraps) or appending to a file (A = 1: every sync
//       also writes the new size; truncated every 4 MiB with timing paused).
//   BM_FloorFsyncBusyCores/append:A/min_time:1.000/real_time
//       The same with every CPU kept busy by SCHED_IDLE spinners, which give
//       way at once to any other thread. On this project's VM an fdatasync
//       whose CPU went idle meanwhile returns about 4 ms after it began even
//       when the disk was done in 0.1-0.3 ms (the halted virtual CPU notices
//       the completion late): BM_FloorFsync measures that whenever nothing
//       else runs, this one the disk. An engine run sees either, depending on
//       whether its own threads or other processes keep the CPUs busy.
//       Under FULL every acknowledgement costs at least one such sync and
//       carries at most T groups (one per closed-loop caller), so T callers
//       cannot pass T / fsync latency transitions/s (the bound for T = 8 and
//       T = 64 alike: 64 callers' bound is 8 times 8 callers'), and the
//       per-call peer stays under 1 / fsync latency: bench/run.sh prints
//       that bound.
//
//   S is SQLite's PRAGMA synchronous value: 2 = FULL (DurabilityOptions::
//   Sync::kFull, the default: synced before the call returns), 1 = NORMAL
//   (synced at checkpoints). T is 1, 8 or 64 (the in-memory loop too).
//
// Every transitions row also carries, from getrusage over the timed loop
// (the whole process: callers and the store's threads):
//   cpu_cores                  CPU time / wall time (this machine has 2)
//   user_us_per_transition     user CPU per transition
//   sys_us_per_transition      kernel CPU per transition
//   switches_per_transition    context switches (voluntary + not) per
//                              transition
//
// Goals (contract §12), judged by bench/report.py from one run:
//   BM_DurableTransitions/sync:2/.../threads:8 and .../threads:64: items/s
//     >= 0.9 x T / BM_FloorFsync's latency;
//   BM_DurableTransitions/sync:1/.../threads:8: >= 50,000 items/s;
//   >= 10x the one-transaction-per-call SQLite peer
//     (BM_SqliteWal_DurableTransitions, peer_durability_benchmark.cc) at the
//     same sync setting and thread count.
//
// Profiling: with CASCADE_BENCH_PERF_CTL set to the control FIFO of a
// `perf record -D -1 --control=fifo:FIFO` running this program, perf is
// enabled for the transitions benchmarks' timed loops only:
//
//   mkfifo /tmp/perf.ctl
//   CASCADE_BENCH_PERF_CTL=/tmp/perf.ctl perf record -D -1 \
//       --control=fifo:/tmp/perf.ctl --call-graph dwarf,16384 -F 500 \
//       build-bench/bench/cascade_durability_bench \
//       --benchmark_filter='Observed/sync:1/.*threads:8'
//
// Example:
//
//   scripts/build.sh build-bench -DCASCADE_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release
//   build-bench/bench/cascade_durability_bench
//   build-bench/bench/cascade_durability_bench --benchmark_filter='Durable|PerCall'
//   CASCADE_BENCH_DIR=/var/lib/cascade-bench build-bench/bench/cascade_durability_bench
//   bench/run.sh      # runs this too and prints the goal table

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/bench_common.h"
#include "bench/bench_dir.h"
#include "bench/transitions.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"
#include "engine/engine_impl.h"
#include "engine/store/sqlite_store.h"
#include "engine/store/store.h"

namespace cascade {
namespace {

using ::cascade::bench::AtomicClock;
using ::cascade::bench::Die;
using ::cascade::bench::kIdSeed;
using ::cascade::bench::kTransitionsPerCycle;
using ::cascade::bench::NowNanos;
using ::cascade::bench::QueueLeafJobs;
using ::cascade::bench::SetCpuCounters;
using ::cascade::bench::Usage;
using ::cascade::bench::WorkerCycle;

namespace fs = std::filesystem;
using internal::Change;
using internal::Store;
using internal::StoreStats;
using internal::Table;

constexpr int64_t kSyncNormal = 1;
constexpr int64_t kSyncFull = 2;
// Seconds of timed loop Google Benchmark aims for in a durable run: long
// enough for several checkpoints under NORMAL and hundreds of fsyncs under
// FULL.
constexpr double kMinTime = 2.0;
// The in-memory loop is ~1000x faster; a fixed count keeps its queue (T x
// this many jobs) small.
constexpr int kInMemoryIterations = 50'000;

using ::cascade::bench::BenchRoot;
using ::cascade::bench::FileSystemOf;

// A new directory for one run.
std::string MakeRunDir() { return ::cascade::bench::MakeRunDir("cascade-durability-bench"); }

// With CASCADE_BENCH_PERF_CTL naming the control FIFO of `perf record
// --control=fifo:PATH -D -1` (started disabled), the transitions benchmarks
// enable perf for their timed loops only, so a profile leaves out the setup
// (submitting the queue) and the teardown.
void PerfControl(const char* command) {
  static const char* const path = std::getenv("CASCADE_BENCH_PERF_CTL");
  if (path == nullptr || *path == '\0') return;
  const int fd = open(path, O_WRONLY);
  if (fd < 0) return;
  const std::string line = absl::StrCat(command, "\n");
  if (write(fd, line.data(), line.size()) < 0) std::perror("CASCADE_BENCH_PERF_CTL");
  close(fd);
}

void RemoveRunDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

DurabilityOptions::Sync SyncOf(int64_t arg) {
  return arg == kSyncFull ? DurabilityOptions::Sync::kFull : DurabilityOptions::Sync::kNormal;
}

// What Engine::Create passes to OpenSqliteStore for the same setting.
internal::SqliteStoreOptions StoreOptionsOf(int64_t arg) {
  internal::SqliteStoreOptions options;
  options.synchronous = arg == kSyncFull ? internal::SqliteStoreOptions::Sync::kFull
                                         : internal::SqliteStoreOptions::Sync::kNormal;
  return options;
}

// ---- Stores -----------------------------------------------------------------

// The peer: one transaction per call. Append commits the group before it
// returns (the engine calls it under its writer lock, so the commit, and its
// fsync under FULL, happens inside the lock and no two calls share one);
// WaitDurable has nothing left to wait for.
class PerCallStore final : public Store {
 public:
  explicit PerCallStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

  absl::StatusOr<uint64_t> Append(std::vector<Change> changes) override {
    std::lock_guard<std::mutex> lock(mu_);
    absl::StatusOr<uint64_t> ticket = inner_->Append(std::move(changes));
    if (!ticket.ok()) return ticket.status();
    absl::Status durable = inner_->WaitDurable(*ticket);
    if (!durable.ok()) return durable;
    return ticket;
  }
  absl::Status WaitDurable(uint64_t ticket) override { return absl::OkStatus(); }
  absl::Status Load(
      Table table,
      absl::FunctionRef<absl::Status(std::string_view, std::string_view)> visit) override {
    return inner_->Load(table, visit);
  }
  absl::Status Close() override { return inner_->Close(); }
  StoreStats GetStats() const override { return inner_->GetStats(); }

 private:
  std::mutex mu_;
  const std::unique_ptr<Store> inner_;
};

// When the calling thread's current engine call started (set by the loop of
// BM_DurableTransitionsObserved), and when its WaitDurable returned.
thread_local int64_t call_start_ns = 0;
thread_local int64_t wait_end_ns = 0;

// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID: exact, where
// getrusage(RUSAGE_THREAD) lags for a running thread) and context switches.
struct ThreadUsage {
  int64_t cpu_ns = 0;
  int64_t blocks = 0;    // voluntary switches: the thread slept (I/O, a lock)
  int64_t preempts = 0;  // involuntary: the scheduler gave its core away

  static ThreadUsage Now() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ThreadUsage{int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec, ru.ru_nvcsw, ru.ru_nivcsw};
  }
};

// What the store's writer thread does, seen through the SQLite store's test
// seams: before_commit and after_commit (on the writer thread, around each
// transaction and its hand-off: under NORMAL the hand-off wakes the waiters,
// under FULL it tells the sync thread), and after_sync (on the sync thread,
// once a sync's waiters are woken). The store's own StoreStats give the
// commits' and syncs' wall time, the log pages and the checkpoints.
class WriterProbe {
 public:
  struct Totals {
    int64_t commits = 0;
    int64_t commit_cpu_ns = 0;
    int64_t commit_blocks = 0;
    int64_t commit_preempts = 0;
    // From the end of a commit's hand-off (and the writer's part of a
    // checkpoint) to the start of the next commit: the writer waiting for
    // groups.
    int64_t gaps = 0;
    int64_t gap_ns = 0;
  };

  // before_commit.
  void BeforeCommit() {
    start_usage_ = ThreadUsage::Now();
    start_ns_ = NowNanos();
    if (last_end_ns_ != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      totals_.gaps += 1;
      totals_.gap_ns += start_ns_ - last_end_ns_;
    }
  }

  // after_commit: the commit is written and handed on.
  void AfterCommit(bool acknowledges) {
    const ThreadUsage end = ThreadUsage::Now();
    if (acknowledges) last_ack_ns_.store(NowNanos(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      totals_.commits += 1;
      totals_.commit_cpu_ns += end.cpu_ns - start_usage_.cpu_ns;
      totals_.commit_blocks += end.blocks - start_usage_.blocks;
      totals_.commit_preempts += end.preempts - start_usage_.preempts;
    }
    // The writer's part of a checkpoint, if any, runs after this seam: it
    // counts in the gap (and StoreStats::writer_checkpoint_ns).
    last_end_ns_ = NowNanos();
  }

  // after_sync (FULL).
  void AfterSync() { last_ack_ns_.store(NowNanos(), std::memory_order_relaxed); }

  // When the last acknowledgement (a commit under NORMAL, a sync under FULL)
  // had woken its waiters.
  int64_t last_ack_ns() const { return last_ack_ns_.load(std::memory_order_relaxed); }

  Totals totals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return totals_;
  }

 private:
  // The writer thread's only.
  int64_t start_ns_ = 0;
  int64_t last_end_ns_ = 0;
  ThreadUsage start_usage_;
  std::atomic<int64_t> last_ack_ns_{0};
  mutable std::mutex mu_;
  Totals totals_;  // guarded by mu_
};

// Diagnostic pass-through: times the phases of each engine call around the
// store's two calls, keeps the real store's StoreStats reachable, and holds
// the probe of its writer thread.
class ObservedStore final : public Store {
 public:
  struct Totals {
    uint64_t appends = 0;
    int64_t pre_append_ns = 0;
    int64_t wait_ns = 0;
    int64_t wake_ns = 0;
  };

  // Opens the SQLite store of `dir` with the probe's seams.
  static absl::StatusOr<std::unique_ptr<ObservedStore>> Open(
      const std::string& dir, const internal::SqliteStoreOptions& options) {
    auto probe = std::make_shared<WriterProbe>();
    const bool full = options.synchronous == internal::SqliteStoreOptions::Sync::kFull;
    internal::SqliteStoreSeams seams;
    seams.before_commit = [probe] { probe->BeforeCommit(); };
    seams.after_commit = [probe, full] { probe->AfterCommit(/*acknowledges=*/!full); };
    seams.after_sync = [probe] { probe->AfterSync(); };
    absl::StatusOr<std::unique_ptr<Store>> inner = internal::OpenSqliteStore(dir, options, seams);
    if (!inner.ok()) return inner.status();
    return std::unique_ptr<ObservedStore>(new ObservedStore(*std::move(inner), std::move(probe)));
  }

  absl::StatusOr<uint64_t> Append(std::vector<Change> changes) override {
    pre_append_ns_.fetch_add(NowNanos() - call_start_ns, std::memory_order_relaxed);
    appends_.fetch_add(1, std::memory_order_relaxed);
    return inner_->Append(std::move(changes));
  }
  absl::Status WaitDurable(uint64_t ticket) override {
    const int64_t start = NowNanos();
    absl::Status status = inner_->WaitDurable(ticket);
    wait_end_ns = NowNanos();
    wait_ns_.fetch_add(wait_end_ns - start, std::memory_order_relaxed);
    wake_ns_.fetch_add(std::max<int64_t>(0, wait_end_ns - std::max(start, probe_->last_ack_ns())),
                       std::memory_order_relaxed);
    return status;
  }
  absl::Status Load(
      Table table,
      absl::FunctionRef<absl::Status(std::string_view, std::string_view)> visit) override {
    return inner_->Load(table, visit);
  }
  absl::Status Close() override { return inner_->Close(); }
  StoreStats GetStats() const override { return inner_->GetStats(); }

  Totals totals() const {
    return Totals{appends_.load(), pre_append_ns_.load(), wait_ns_.load(), wake_ns_.load()};
  }
  WriterProbe::Totals writer() const { return probe_->totals(); }

 private:
  ObservedStore(std::unique_ptr<Store> inner, std::shared_ptr<WriterProbe> probe)
      : probe_(std::move(probe)), inner_(std::move(inner)) {}

  const std::shared_ptr<WriterProbe> probe_;  // shared with the seams' closures
  const std::unique_ptr<Store> inner_;
  std::atomic<uint64_t> appends_{0};
  std::atomic<int64_t> pre_append_ns_{0};
  std::atomic<int64_t> wait_ns_{0};
  std::atomic<int64_t> wake_ns_{0};
};

// ---- The run: one engine with a full queue ----------------------------------

enum class Kind { kInMemory, kGroupCommit, kPerCall, kObserved };

struct Run {
  std::string dir;  // empty in memory
  AtomicClock clock;
  std::unique_ptr<Engine> engine;
  ObservedStore* observed = nullptr;  // owned by the engine; kObserved only
  StoreStats stats_before;
  ObservedStore::Totals totals_before;
  WriterProbe::Totals writer_before;
  Usage usage_before;
};
// Set by thread 0 before the start barrier, read by every thread after it.
Run* run = nullptr;

// Thread 0, before the timed loop: a fresh engine of `kind` holding `jobs`
// queued leaf jobs (rounded up to a multiple of 1000).
void StartRun(Kind kind, int64_t sync, size_t jobs) {
  run = new Run;
  Options options;
  options.clock = &run->clock;
  options.id_seed = kIdSeed;
  absl::StatusOr<std::unique_ptr<Engine>> engine;
  if (kind == Kind::kInMemory) {
    engine = Engine::Create(options);
  } else {
    run->dir = MakeRunDir();
    if (kind == Kind::kGroupCommit) {
      options.durability.data_dir = run->dir;
      options.durability.sync = SyncOf(sync);
      engine = Engine::Create(options);
    } else {
      std::unique_ptr<Store> store;
      if (kind == Kind::kPerCall) {
        absl::StatusOr<std::unique_ptr<Store>> inner =
            internal::OpenSqliteStore(run->dir, StoreOptionsOf(sync));
        if (!inner.ok()) Die("OpenSqliteStore", inner.status());
        store = std::make_unique<PerCallStore>(*std::move(inner));
      } else {
        absl::StatusOr<std::unique_ptr<ObservedStore>> observed =
            ObservedStore::Open(run->dir, StoreOptionsOf(sync));
        if (!observed.ok()) Die("OpenSqliteStore", observed.status());
        run->observed = observed->get();
        store = *std::move(observed);
      }
      absl::StatusOr<std::unique_ptr<internal::EngineImpl>> impl =
          internal::CreateEngine(options, std::move(store));
      if (impl.ok()) {
        engine = std::unique_ptr<Engine>(*std::move(impl));
      } else {
        engine = impl.status();
      }
    }
  }
  if (!engine.ok()) Die("creating the engine", engine.status());
  run->engine = *std::move(engine);

  QueueLeafJobs(*run->engine, run->clock, jobs);
  if (run->observed != nullptr) {
    run->stats_before = run->observed->GetStats();
    run->totals_before = run->observed->totals();
    run->writer_before = run->observed->writer();
  }
  PerfControl("enable");
  run->usage_before = Usage::Now();
}

// Thread 0, after the timed loop (every thread has left it): the counters,
// then the engine (closing the store checkpoints: not timed) and its files.
void EndRun(benchmark::State& state) {
  const Usage after = Usage::Now();
  PerfControl("disable");
  const Usage& before = run->usage_before;
  const double transitions =
      static_cast<double>(state.iterations() * state.threads() * kTransitionsPerCycle);
  const double wall_ns = static_cast<double>(after.wall_ns - before.wall_ns);
  SetCpuCounters(state, before, after, transitions);
  if (run->observed != nullptr && wall_ns > 0) {
    const StoreStats stats = run->observed->GetStats();
    const StoreStats& s0 = run->stats_before;
    const ObservedStore::Totals totals = run->observed->totals();
    const double commits = static_cast<double>(stats.commits - s0.commits);
    const double syncs = static_cast<double>(stats.syncs - s0.syncs);
    const double groups = static_cast<double>(stats.groups_committed - s0.groups_committed);
    const double durable = static_cast<double>(stats.groups_durable - s0.groups_durable);
    const double appends = static_cast<double>(totals.appends - run->totals_before.appends);
    auto share = [wall_ns](uint64_t after, uint64_t before) {
      return static_cast<double>(after - before) / wall_ns;
    };
    state.counters["groups_per_commit"] = commits == 0 ? 0.0 : groups / commits;
    state.counters["commits_per_second"] = commits * 1e9 / wall_ns;
    if (syncs > 0) {
      state.counters["groups_per_sync"] = durable / syncs;
      state.counters["syncs_per_second"] = syncs * 1e9 / wall_ns;
      state.counters["sync_us"] = static_cast<double>(stats.sync_ns - s0.sync_ns) / 1e3 / syncs;
      state.counters["syncer_busy"] = share(stats.sync_ns, s0.sync_ns);
    }
    if (appends > 0) {
      state.counters["pre_append_us"] =
          static_cast<double>(totals.pre_append_ns - run->totals_before.pre_append_ns) / 1e3 /
          appends;
      state.counters["wait_us"] =
          static_cast<double>(totals.wait_ns - run->totals_before.wait_ns) / 1e3 / appends;
      state.counters["wake_us"] =
          static_cast<double>(totals.wake_ns - run->totals_before.wake_ns) / 1e3 / appends;
    }
    const WriterProbe::Totals w = run->observed->writer();
    const WriterProbe::Totals& w0 = run->writer_before;
    if (commits > 0) {
      auto per_commit = [commits](int64_t after, int64_t before) {
        return static_cast<double>(after - before) / commits;
      };
      state.counters["commit_us"] =
          static_cast<double>(stats.commit_ns - s0.commit_ns) / 1e3 / commits;
      state.counters["commit_cpu_us"] = per_commit(w.commit_cpu_ns, w0.commit_cpu_ns) / 1e3;
      state.counters["commit_blocks"] = per_commit(w.commit_blocks, w0.commit_blocks);
      state.counters["commit_preempts"] = per_commit(w.commit_preempts, w0.commit_preempts);
      state.counters["pages_per_commit"] =
          static_cast<double>(stats.log_pages - s0.log_pages) / commits;
    }
    if (w.gaps > w0.gaps) {
      state.counters["writer_gap_us"] =
          static_cast<double>(w.gap_ns - w0.gap_ns) / 1e3 / static_cast<double>(w.gaps - w0.gaps);
    }
    state.counters["checkpoints"] = static_cast<double>(stats.checkpoints - s0.checkpoints);
    // The writer's part of the checkpoints (it commits nothing meanwhile);
    // the checkpoint thread's time is checkpointer_busy.
    state.counters["checkpoint_share"] = share(stats.writer_checkpoint_ns, s0.writer_checkpoint_ns);
    state.counters["checkpointer_busy"] = share(stats.checkpoint_ns, s0.checkpoint_ns);
    state.counters["writer_busy"] =
        share(stats.commit_ns + stats.writer_checkpoint_ns, s0.commit_ns + s0.writer_checkpoint_ns);
  }
  run->engine.reset();
  if (!run->dir.empty()) RemoveRunDir(run->dir);
  delete run;
  run = nullptr;
}

// Claim + Finish until the run is over. `observe`: record each call's start
// for ObservedStore and sum its tail (post_ns: WaitDurable's return to the
// call's return); otherwise WorkerCycle, unchanged.
void Cycles(benchmark::State& state, bool observe) {
  const ClaimRequest request;  // Claim({}): any queued job, the default lease
  const FinishReport report;   // Finish(id, token, {}): keep the planned URL
  int64_t post_ns = 0;
  for (auto _ : state) {
    Engine& engine = *run->engine;
    if (!observe) {
      if (absl::Status cycle = WorkerCycle(engine); !cycle.ok()) {
        state.SkipWithError(cycle.ToString().c_str());
        break;
      }
      continue;
    }
    call_start_ns = NowNanos();
    absl::StatusOr<ClaimedJob> claimed = engine.Claim(request);
    post_ns += NowNanos() - wait_end_ns;
    if (!claimed.ok()) {
      state.SkipWithError(claimed.status().ToString().c_str());
      break;
    }
    call_start_ns = NowNanos();
    absl::StatusOr<Job> finished = engine.Finish(claimed->job.id, claimed->lease.token, report);
    post_ns += NowNanos() - wait_end_ns;
    if (!finished.ok()) {
      state.SkipWithError(finished.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(finished);
  }
  state.SetItemsProcessed(state.iterations() * kTransitionsPerCycle);
  if (observe && state.iterations() > 0) {
    // Summed over the threads by Google Benchmark, then divided by every
    // thread's calls.
    state.counters["post_us"] = benchmark::Counter(
        static_cast<double>(post_ns) / 1e3 /
        static_cast<double>(state.threads() * kTransitionsPerCycle * state.iterations()));
  }
}

void TransitionsRun(benchmark::State& state, Kind kind, int64_t sync) {
  if (state.thread_index() == 0) {
    StartRun(kind, sync, static_cast<size_t>(state.max_iterations) * state.threads());
  }
  Cycles(state, kind == Kind::kObserved);
  if (state.thread_index() == 0) EndRun(state);
}

void BM_DurableTransitions(benchmark::State& state) {
  TransitionsRun(state, Kind::kGroupCommit, state.range(0));
}
void BM_PerCallTransitions(benchmark::State& state) {
  TransitionsRun(state, Kind::kPerCall, state.range(0));
}
void BM_InMemoryTransitions(benchmark::State& state) { TransitionsRun(state, Kind::kInMemory, 0); }
void BM_DurableTransitionsObserved(benchmark::State& state) {
  TransitionsRun(state, Kind::kObserved, state.range(0));
}

void DurableArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("sync")
      ->Arg(kSyncFull)
      ->Arg(kSyncNormal)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(kMinTime)
      ->UseRealTime()
      ->Threads(1)
      ->Threads(8)
      ->Threads(64);
}
BENCHMARK(BM_DurableTransitions)->Apply(DurableArgs);
BENCHMARK(BM_PerCallTransitions)->Apply(DurableArgs);
BENCHMARK(BM_InMemoryTransitions)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(kInMemoryIterations)
    ->UseRealTime()
    ->Threads(1)
    ->Threads(8);
// 64 threads x 50,000 would queue 3.2 M jobs first.
BENCHMARK(BM_InMemoryTransitions)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(kInMemoryIterations / 10)
    ->UseRealTime()
    ->Threads(64);
BENCHMARK(BM_DurableTransitionsObserved)->Apply(DurableArgs);

// ---- The disk's floor -------------------------------------------------------

// Keeps every CPU busy at SCHED_IDLE (it runs only when nothing else
// wants the CPU, and gives way at once) while it lives: on the VM this
// project measures on, an fdatasync that finds its CPU idle (halted) takes
// about 4 ms to return even when the disk finished in 0.1-0.3 ms, because the
// halted virtual CPU notices the completion late; with every CPU busy it
// returns when the disk is done.
class BusyCores {
 public:
  BusyCores() {
    const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) {
      spinners_.emplace_back([this] {
        sched_param param{};
        pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
        while (!stop_.load(std::memory_order_relaxed)) {
        }
      });
    }
  }
  ~BusyCores() {
    stop_.store(true);
    for (std::thread& t : spinners_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> spinners_;
};

void FloorFsync(benchmark::State& state, bool busy_cores) {
  const bool append = state.range(0) != 0;
  std::optional<BusyCores> busy;
  if (busy_cores) busy.emplace();
  constexpr size_t kBlock = 4096;
  constexpr off_t kFileBytes = off_t{4} << 20;
  const std::string dir = MakeRunDir();
  const std::string path = dir + "/floor";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::abort();
  }
  const std::string block(kBlock, 'x');
  auto write_block = [&](off_t offset) {
    if (pwrite(fd, block.data(), kBlock, offset) != static_cast<ssize_t>(kBlock)) {
      std::perror("pwrite");
      std::abort();
    }
  };
  if (!append) {
    for (off_t offset = 0; offset < kFileBytes; offset += kBlock) write_block(offset);
    fsync(fd);
  }
  off_t offset = 0;
  for (auto _ : state) {
    if (offset == kFileBytes) {
      offset = 0;
      if (append) {
        state.PauseTiming();
        if (ftruncate(fd, 0) != 0 || fsync(fd) != 0) std::abort();
        state.ResumeTiming();
      }
    }
    write_block(offset);
    if (fdatasync(fd) != 0) {
      std::perror("fdatasync");
      std::abort();
    }
    offset += kBlock;
  }
  state.SetItemsProcessed(state.iterations());
  close(fd);
  RemoveRunDir(dir);
}
void BM_FloorFsync(benchmark::State& state) { FloorFsync(state, /*busy_cores=*/false); }
void BM_FloorFsyncBusyCores(benchmark::State& state) { FloorFsync(state, /*busy_cores=*/true); }
BENCHMARK(BM_FloorFsync)
    ->ArgName("append")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(1.0)
    ->UseRealTime();
BENCHMARK(BM_FloorFsyncBusyCores)
    ->ArgName("append")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(1.0)
    ->UseRealTime();

}  // namespace
}  // namespace cascade

int main(int argc, char** argv) {
  cascade::bench::UseProductionAbseil();
  const std::filesystem::path root = cascade::BenchRoot();
  benchmark::AddCustomContext("store_dir", root.string());
  benchmark::AddCustomContext("store_dir_filesystem", cascade::FileSystemOf(root));
  benchmark::AddCustomContext("sqlite_version", sqlite3_libversion());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
