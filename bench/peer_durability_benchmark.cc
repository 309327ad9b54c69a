// Copyright 2026 The Cascade Authors.
//
// File: bench/peer_durability_benchmark.cc
// -----------------------------------------------------------------------------
// contract §12's "SQLite committing one transaction per call": the SQLite peer
// (bench/sqlite_peer.h, bench/report/peer.md) as a WAL file, running
// durability_benchmark.cc's workload beside BM_DurableTransitions and
// BM_PerCallTransitions, in the same program and with the same naming.
//
//   BM_SqliteWal_DurableTransitions/sync:S/min_time:2.000/real_time/threads:T
//       T threads (1 or 8) each run a worker's cycle, Claim (the oldest
//       queued job) then Finish, on one WAL database; each thread has a
//       connection of its own, and each Claim and each Finish is one
//       transaction (BEGIN IMMEDIATE ... COMMIT) acknowledged when COMMIT
//       returns, durable under the run's sync setting: S = 1, NORMAL (synced
//       at checkpoints); S = 2, FULL (the log synced by every COMMIT).
//       items_per_second is acknowledged transitions per second over all
//       threads (2 per cycle: queued -> rendering -> finished), as in
//       BM_DurableTransitions; the time column is wall time per cycle.
//
//   BM_SqliteWal_DurableTransitionsWriterMutex/sync:S/min_time:2.000/real_time/threads:8
//       The same with SqlitePeerOptions::serialize_writers: the 8 threads'
//       write transactions also take one mutex of the process, so a waiting
//       writer is woken when the lock is released instead of polling for it.
//       Not the contract's peer; it says how much of the 8-thread figure above is
//       the busy handler's polling rather than SQLite's one writer at a time.
//
// Writers meet at SQLite's write lock: a connection that finds it held
// waits in the busy handler (short sleeps from 20 us, up to 1 ms; a 10 s
// timeout), and a transaction whose wait times out is started again
// (SQLITE_BUSY). Counters:
//   busy_waits_per_transition   sleeps in the busy handler per transition
//   busy_retries                transactions started again
//   cpu_cores, user_us_per_transition, sys_us_per_transition,
//   switches_per_transition     as durability_benchmark.cc's (getrusage
//                               over the timed loop, the whole process)
//
// Each run (every step of Google Benchmark's iteration ramp, every
// repetition) gets a fresh database in a new directory under
// $CASCADE_BENCH_DIR (default: the system temp directory; the program
// prints which, and its file system), holding max_iterations x T queued leaf
// jobs submitted before the loop (SubmitBatch of 1000, template id only, the
// clock advanced 1 ms per batch; not timed), removed afterwards. The clock is
// manual (one relaxed atomic load): no lease expires.
//
// Example:
//
//   build-bench/bench/cascade_durability_bench --benchmark_filter=SqliteWal_Durable
//   build-bench/bench/cascade_durability_bench \
//       --benchmark_filter='SqliteWal_Durable|DurableTransitions/|PerCall'

#include <sys/resource.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
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
using ::cascade::bench::kTeam;
using ::cascade::bench::NowNanos;
using ::cascade::bench::SetCpuCounters;
using ::cascade::bench::Usage;

using bench::SqlitePeer;
using bench::SqlitePeerOptions;

constexpr int64_t kSyncNormal = 1;
constexpr int64_t kSyncFull = 2;
constexpr int64_t kTransitionsPerCycle = 2;
constexpr double kMinTime = 2.0;  // as durability_benchmark.cc's

struct PeerRun {
  std::string dir;
  AtomicClock clock;
  std::unique_ptr<SqlitePeer> peer;
  bench::PeerStats stats_before;
  Usage usage_before;
};
// Set by thread 0 before the start barrier, read by every thread after it.
PeerRun* peer_run = nullptr;

// Thread 0, before the timed loop: a fresh database with `jobs` queued leaf
// jobs (rounded up to a multiple of 1000) and a connection for each thread.
void StartPeerRun(int64_t sync, size_t jobs, int threads, bool serialize_writers) {
  peer_run = new PeerRun;
  peer_run->dir = bench::MakeRunDir("cascade-peer-durability-bench");
  SqlitePeerOptions options;
  options.path = peer_run->dir + "/jobs.db";
  options.sync =
      sync == kSyncFull ? SqlitePeerOptions::Sync::kFull : SqlitePeerOptions::Sync::kNormal;
  options.clock = &peer_run->clock;
  options.id_seed = kIdSeed;
  options.serialize_writers = serialize_writers;
  auto peer = SqlitePeer::Open(options);
  if (!peer.ok()) Die("SqlitePeer::Open", peer.status());
  peer_run->peer = *std::move(peer);
  JobSpec leaf;
  leaf.template_id = "tpl-1";
  const std::vector<JobSpec> specs(kBatchSize, leaf);
  for (size_t queued = 0; queued < jobs; queued += kBatchSize) {
    peer_run->clock.AdvanceMillis(1);
    auto result = peer_run->peer->SubmitBatch(kTeam, specs);
    if (!result.ok()) Die("SubmitBatch", result.status());
  }
  if (absl::Status s = peer_run->peer->Warm(static_cast<size_t>(threads)); !s.ok()) {
    Die("Warm", s);
  }
  peer_run->stats_before = peer_run->peer->stats();
  peer_run->usage_before = Usage::Now();
}

// Thread 0, after the timed loop (every thread has left it).
void EndPeerRun(benchmark::State& state) {
  const Usage after = Usage::Now();
  const Usage& before = peer_run->usage_before;
  const double transitions =
      static_cast<double>(state.iterations() * state.threads() * kTransitionsPerCycle);
  const double wall_ns = static_cast<double>(after.wall_ns - before.wall_ns);
  const bench::PeerStats stats = peer_run->peer->stats();
  if (transitions > 0 && wall_ns > 0) {
    state.counters["busy_waits_per_transition"] =
        static_cast<double>(stats.busy_waits - peer_run->stats_before.busy_waits) / transitions;
    state.counters["busy_retries"] =
        static_cast<double>(stats.busy_retries - peer_run->stats_before.busy_retries);
  }
  SetCpuCounters(state, before, after, transitions);
  peer_run->peer.reset();
  std::error_code ec;
  std::filesystem::remove_all(peer_run->dir, ec);
  delete peer_run;
  peer_run = nullptr;
}

void Transitions(benchmark::State& state, bool serialize_writers) {
  if (state.thread_index() == 0) {
    StartPeerRun(state.range(0), static_cast<size_t>(state.max_iterations) * state.threads(),
                 state.threads(), serialize_writers);
  }
  for (auto _ : state) {
    SqlitePeer& peer = *peer_run->peer;
    if (absl::Status cycle = bench::ClaimThenFinish(peer); !cycle.ok()) {
      state.SkipWithError(cycle.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kTransitionsPerCycle);
  if (state.thread_index() == 0) EndPeerRun(state);
}

void BM_SqliteWal_DurableTransitions(benchmark::State& state) { Transitions(state, false); }
void BM_SqliteWal_DurableTransitionsWriterMutex(benchmark::State& state) {
  Transitions(state, true);
}

void PeerArgs(benchmark::internal::Benchmark* b) {
  b->ArgName("sync")
      ->Arg(kSyncFull)
      ->Arg(kSyncNormal)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(kMinTime)
      ->UseRealTime()
      ->Threads(1)
      ->Threads(8);
}
BENCHMARK(BM_SqliteWal_DurableTransitions)->Apply(PeerArgs);
// At 1 thread the mutex is never contended: the same figure as above.
BENCHMARK(BM_SqliteWal_DurableTransitionsWriterMutex)
    ->ArgName("sync")
    ->Arg(kSyncFull)
    ->Arg(kSyncNormal)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(kMinTime)
    ->UseRealTime()
    ->Threads(8);

}  // namespace
}  // namespace cascade
