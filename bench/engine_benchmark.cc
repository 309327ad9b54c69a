// Copyright 2026 The Cascade Authors.
//
// File: bench/engine_benchmark.cc
// -----------------------------------------------------------------------------
// The engine with 1,000,000 resident jobs, beside its floor (contract §12); the
// SQLite peer's rows are in peer_benchmark.cc, linked into the same program so
// that one run measures all three. Every engine benchmark but BM_ClaimFinish,
// BM_SubmitBatch1000Subscribers and BM_ResidentBytes shares one engine, built
// once per process the first time one of them runs: 1000 SubmitBatch calls of
// 1000 queued leaf jobs (template id only, no tags) for one team, on a
// ManualClock advanced 1 ms per batch, with a fixed id seed, so every run
// builds the same jobs with the same ids. It grows as the submit benchmark
// adds to it (counter jobs_held), up to 1.5M jobs in 5 repetitions. The two
// family benchmarks share a second engine built the same way.
//
// contract §12 rows (engine / floor):
//   BM_CancelMany1000Leaves / BM_FloorHashFindWrite1000
//       CancelMany(team, 1000 random queued leaf ids) / 1000 random find +
//       write (a state and two timestamps) in an absl::flat_hash_map of 1M
//       entries keyed by 128-bit ULIDs. Goal: <= 3x the floor.
//   BM_CancelMany1000Families / BM_FloorCancelFamilies
//       CancelMany(team, 1000 parent ids) of families of 1 parent + 10
//       nested children (11,000 jobs cancelled per call) / 11,000 find +
//       write. Goal: >= 30x faster than SQLite in memory.
//   BM_SubmitBatch1000 / BM_FloorSubmit1000
//       SubmitBatch(team, 1000 leaf specs) into the engine of ~1M jobs / 1000
//       ids made by an IdGenerator, each inserted into the floor's map.
//       Goals: <= 500 us; >= 10x SQLite in memory.
//   BM_Get / BM_FloorGet (and BM_FloorGetLocked)
//       Get(team, random id) / one find and a copy of its 32-byte record (the
//       same inside a read-locked pthread rwlock). Goals: <= 150 ns; >= 10x
//       SQLite.
//   BM_BatchAggregate / BM_FloorAggregate
//       GetBatchCounts(team, random batch id) / six relaxed atomic loads of a
//       random one of 1000 batches. Goals: <= 50 ns; >= 100x SQLite.
//   BM_ClaimFinish/threads:1|2|8 / BM_FloorClaimFinish/threads:1|2|8
//       One worker cycle, Claim({}) of the oldest queued job then Finish(id,
//       token, {}), from 1 thread and from 2 threads on one engine;
//       items_per_second is cycles per second over all threads / a deque
//       behind a std::mutex, popped and marked under the lock, marked again
//       under it. Goals: >= 20x SQLite; 2 threads >= 1.6x 1 thread; 8 threads
//       (on 2 cores) never below 1 thread.
//   BM_List50 / BM_FloorList50
//       List(team, {states: [queued], limit: 50}) / 50 records copied from a
//       creation-ordered vector of keys. Goal: <= 50 us.
//   BM_ResidentBytes / BM_FloorResidentBytes
//       Counter bytes_per_job: a fresh process (this program, run with
//       --resident_probe=engine|floor) builds 1M jobs as above / the floor's
//       map of 1M records, and reports how much its resident set grew per
//       job. Goal: <= 256 bytes.
//   BM_CancelFamilySize/k:K / BM_FloorCancelFamilySize/k:K
//       CancelMany(team, 100 parent ids) of families of 1 + K children, K in
//       1, 2, 5, 10, 20, 50, 100 (counter jobs_per_call) / as many find +
//       write: how a cancel's cost grows with the family.
//
// Secondary:
//   BM_SubmitBatch1000Subscribers/0|1
//       SubmitBatch(team, 1000 leaf specs) into an engine of its own, with no
//       event subscriber (/0) or with one whose callback sleeps 1 ms per event
//       (/1, max_queued 65,536), which falls behind and drops. contract §8: a slow
//       subscriber never blocks the engine, so /1 should cost about what /0
//       does (the price of building the events), however slow the callback.
//   BM_ClaimFinishSeparateEngines/threads:2
//       The claim + finish cycle from 2 threads, each on an engine of its own:
//       the scaling of the code when no data is shared.
//   BM_FloorCacheLineHandoff/threads:2
//       2 threads alternately writing one atomic: the cost of moving one cache
//       line between cores, the floor of any state two threads share.
//
// The floor and the cancel benchmark carry a `ns_per_1000_ops` counter (the
// time of one iteration, which is 1000 operations).
//
// Ids are chosen outside the timed region. The leaf cancel benchmark draws
// its ids from a pool of 800,000 queued jobs shuffled across the whole
// million, so its accesses are as cache-unfriendly as the floor's; Get reads
// from the other 200,000 jobs, which no benchmark cancels, so its figure does
// not depend on which benchmarks ran before it. The family benchmarks submit
// their families (shuffled) before their timed loops.
//
// BM_ClaimFinish runs on an engine that starts with 3,000,000 queued leaf jobs
// (the same specs, batches of 1000), enough for 5 repetitions at 1 thread and
// 5 at 2 threads of 200,000 cycles per thread; a run that would need more
// submits more before its timed loop. Its clock is lock-free and manual, so no
// lease expires and the engine runs no background work.
//
// bench/run.sh runs this program and writes docs/benchmarks.md from its JSON
// (with the ratios, the verdicts and a chart). By hand:
//
//   build-bench/bench/cascade_bench --benchmark_filter='Cancel|Floor'
//   build-bench/bench/cascade_bench --benchmark_filter=ClaimFinish
//   build-bench/bench/cascade_bench --benchmark_filter=Resident

#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "bench/bench_common.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"

extern char** environ;

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

// Iterations of the cancel benchmark per repetition: 5 repetitions of 100
// consume 500,000 of the 800,000 pooled jobs. Google Benchmark's own
// iteration count would aim for 0.5 s and empty any pool; if a run asks for
// more than the pool holds, it is refilled with timing paused.
constexpr int kCancelIterations = 100;
// Iterations of the submit benchmark per repetition: each adds 1000 jobs, so 5
// repetitions grow the engine from 1.0M to 1.5M jobs.
constexpr int kSubmitIterations = 100;
// Iterations of the subscriber pair per repetition: each repetition's engine
// ends at 200,000 jobs, and the subscriber's queue (65,536 events) fills
// about a third of the way through, so most of the run is spent dropping.
constexpr int kSubscriberSubmitIterations = 200;
constexpr size_t kSubscriberQueue = size_t{1} << 16;
// Claim + finish cycles per thread and repetition, and the queued jobs the
// claim engine starts with: 5 repetitions at 1 thread and 5 at 2 threads take
// 5 x (1 + 2) x 200,000 = 3M jobs. At ~0.8 us a cycle a repetition runs for
// 0.16 s or more, long enough to average over scheduler noise.
constexpr int kClaimIterations = 200'000;
constexpr size_t kClaimQueuedJobs = 15 * kClaimIterations;
// Families of 1 + kFamilyChildren for the cancel-families row; each
// repetition submits kFamilyIterations x 1000 of them (110,000 jobs a call
// of 10) before its timed loop.
constexpr int kFamilyChildren = 10;
constexpr int kFamilyIterations = 10;
// The family-size rows cancel kFamilyRoots families of 1 + k per call,
// kFamilySizeIterations calls per repetition.
constexpr size_t kFamilyRoots = 100;
constexpr int kFamilySizeIterations = 20;
constexpr size_t kListLimit = 50;

// The shared 1M-job engine. Built on first use; never destroyed (tearing
// down a million jobs at exit would only slow the process down).
class Resident {
 public:
  static Resident& Get() {
    static Resident* const resident = new Resident();
    return *resident;
  }
  // A second engine built the same way, for the family benchmarks, which add
  // ~2.5M jobs over a run: on the shared engine, the id index would double
  // (a rehash of ~1.8M entries) inside some other benchmark's timed loop.
  // Here it doubles while families are submitted, before a timed loop.
  static Resident& ForFamilies() {
    static Resident* const resident = new Resident();
    return *resident;
  }

  Engine& engine() { return *engine_; }
  // Job ids no benchmark cancels, in random order.
  const std::vector<JobId>& read_set() const { return read_set_; }
  // The 1000 batches of the initial million, in random order.
  const std::vector<BatchId>& batches() const { return batches_; }

  // Wall time spent refilling the cancel pool so far.
  int64_t refill_nanos() const { return refill_nanos_; }

  // Submits `n` families of one parent with `children` nested children (the
  // parent pending, the children queued) in batches of 1000 families, as the
  // SQLite peer does, advancing the clock 1 ms per batch; returns the
  // parents' ids, shuffled.
  std::vector<JobId> SubmitFamilies(size_t n, int children) {
    JobSpec family = LeafSpec();
    family.children.assign(static_cast<size_t>(children), LeafSpec());
    std::vector<JobId> roots;
    roots.reserve(n);
    for (size_t done = 0; done < n; done += kBatchSize) {
      clock_.Advance(absl::Milliseconds(1));
      const std::vector<JobSpec> specs(std::min(kBatchSize, n - done), family);
      auto result = engine_->SubmitBatch(kTeam, specs);
      if (!result.ok()) Die("SubmitBatch", result.status());
      if (result->success_count != specs.size()) {
        Die("SubmitBatch", absl::InternalError("not every family was created"));
      }
      for (const BatchJobResult& job : result->jobs) roots.push_back(job.job.id);
    }
    Shuffle(roots, rng_);
    return roots;
  }

  // The next 1000 queued leaf ids of the shuffled pool, valid until the next
  // call. Refills the pool (100,000 new jobs, timing paused when `state` is
  // given) when it runs out.
  absl::Span<const JobId> NextCancelIds(benchmark::State* state) {
    if (pool_next_ + kBatchSize > pool_.size()) {
      if (state != nullptr) state->PauseTiming();
      const int64_t start = NowNanos();
      RefillPool(100'000);
      refill_nanos_ += NowNanos() - start;
      if (state != nullptr) state->ResumeTiming();
    }
    absl::Span<const JobId> ids(pool_.data() + pool_next_, kBatchSize);
    pool_next_ += kBatchSize;
    return ids;
  }

 private:
  Resident() : clock_(absl::FromUnixSeconds(1'700'000'000)), rng_(kShuffleSeed) {
    Options options;
    options.clock = &clock_;
    options.id_seed = kIdSeed;
    auto engine = Engine::Create(options);
    if (!engine.ok()) Die("Engine::Create", engine.status());
    engine_ = *std::move(engine);

    std::vector<JobId> all = SubmitJobs(kResidentJobs, &batches_);
    Shuffle(all, rng_);
    Shuffle(batches_, rng_);
    read_set_.assign(all.begin(), all.begin() + kReadSetSize);
    pool_.assign(all.begin() + kReadSetSize, all.end());
  }

  // Submits `n` leaf jobs (a multiple of 1000) in batches of 1000, advancing
  // the clock 1 ms per batch; returns their ids and appends the batch ids.
  std::vector<JobId> SubmitJobs(size_t n, std::vector<BatchId>* batch_ids) {
    const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
    std::vector<JobId> ids;
    ids.reserve(n);
    for (size_t done = 0; done < n; done += kBatchSize) {
      clock_.Advance(absl::Milliseconds(1));
      auto result = engine_->SubmitBatch(kTeam, specs);
      if (!result.ok()) Die("SubmitBatch", result.status());
      if (result->success_count != kBatchSize) {
        Die("SubmitBatch", absl::InternalError("not every spec was created"));
      }
      for (const BatchJobResult& job : result->jobs) ids.push_back(job.job.id);
      if (batch_ids != nullptr) batch_ids->push_back(result->batch_id);
    }
    return ids;
  }

  void RefillPool(size_t n) {
    pool_ = SubmitJobs(n, nullptr);
    Shuffle(pool_, rng_);
    pool_next_ = 0;
  }

  ManualClock clock_;
  std::mt19937_64 rng_;
  std::unique_ptr<Engine> engine_;
  std::vector<JobId> read_set_;
  std::vector<BatchId> batches_;
  std::vector<JobId> pool_;
  size_t pool_next_ = 0;
  int64_t refill_nanos_ = 0;
};

// ---- The floor --------------------------------------------------------------

// A 32-byte stand-in for a job record; the floor writes its state and two
// timestamps, as a cancel does.
struct FloorRecord {
  JobState state = JobState::kQueued;
  int64_t updated_at = 0;
  int64_t error_at = 0;
  int32_t attempts = 0;
};

// The floor's map and keys, built once per process like the engine (Google
// Benchmark calls a benchmark function several times while it settles on an
// iteration count).
struct Floor {
  static Floor& Get() {
    static Floor* const floor = new Floor();
    return *floor;
  }

  // Keys made the way the engine makes job ids: the same generator and seed,
  // 1000 per millisecond; then shuffled.
  Floor() {
    IdGenerator generator(kIdSeed);
    absl::Time now = absl::FromUnixSeconds(1'700'000'000);
    keys.reserve(kResidentJobs);
    map.reserve(kResidentJobs);
    for (size_t i = 0; i < kResidentJobs; ++i) {
      if (i % kBatchSize == 0) now += absl::Milliseconds(1);
      keys.push_back(generator.Next(now));
      map.emplace(keys.back(), FloorRecord{});
    }
    std::mt19937_64 rng(kShuffleSeed);
    Shuffle(keys, rng);
  }

  absl::flat_hash_map<JobId, FloorRecord> map;
  std::vector<JobId> keys;
  size_t next = 0;  // where the next iteration's 1000 keys start
  int64_t stamp = 0;
};

void BM_FloorHashFindWrite1000(benchmark::State& state) {
  Floor& floor = Floor::Get();
  absl::flat_hash_map<JobId, FloorRecord>& map = floor.map;
  const std::vector<JobId>& keys = floor.keys;
  size_t next = floor.next;
  int64_t stamp = floor.stamp;
  const int64_t start = NowNanos();
  for (auto _ : state) {
    if (next + kBatchSize > keys.size()) next = 0;
    const JobId* batch = keys.data() + next;
    next += kBatchSize;
    ++stamp;
    for (size_t i = 0; i < kBatchSize; ++i) {
      auto it = map.find(batch[i]);
      FloorRecord& record = it->second;
      record.state = JobState::kCancelled;
      record.updated_at = stamp;
      record.error_at = stamp;
    }
    benchmark::ClobberMemory();
  }
  const int64_t loop_nanos = NowNanos() - start;
  floor.next = next;
  floor.stamp = stamp;
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.counters["ns_per_1000_ops"] = NsPerIteration(loop_nanos);
}
BENCHMARK(BM_FloorHashFindWrite1000)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The floor of a cancel of `n` jobs: `n` find + write in the floor's map,
// over keys taken in the shuffled order, wrapping around.
void FloorFindWrite(Floor& floor, size_t n) {
  if (floor.next + n > floor.keys.size()) floor.next = 0;
  const JobId* keys = floor.keys.data() + floor.next;
  floor.next += n;
  ++floor.stamp;
  for (size_t i = 0; i < n; ++i) {
    FloorRecord& record = floor.map.find(keys[i])->second;
    record.state = JobState::kCancelled;
    record.updated_at = floor.stamp;
    record.error_at = floor.stamp;
  }
  benchmark::ClobberMemory();
}

// 11,000 find + write: the floor of cancelling 1000 families of 1+10.
void BM_FloorCancelFamilies(benchmark::State& state) {
  Floor& floor = Floor::Get();
  for (auto _ : state) FloorFindWrite(floor, kBatchSize * (1 + kFamilyChildren));
  state.SetItemsProcessed(state.iterations() * kBatchSize * (1 + kFamilyChildren));
}
BENCHMARK(BM_FloorCancelFamilies)->Unit(benchmark::kMicrosecond)->UseRealTime();

// kFamilyRoots x (1 + k) find + write: the floor of BM_CancelFamilySize/k.
void BM_FloorCancelFamilySize(benchmark::State& state) {
  Floor& floor = Floor::Get();
  const size_t jobs = kFamilyRoots * (1 + static_cast<size_t>(state.range(0)));
  for (auto _ : state) FloorFindWrite(floor, jobs);
  state.SetItemsProcessed(state.iterations() * jobs);
  state.counters["jobs_per_call"] = static_cast<double>(jobs);
}
BENCHMARK(BM_FloorCancelFamilySize)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ArgName("k")
    ->Arg(1)
    ->Arg(2)
    ->Arg(5)
    ->Arg(10)
    ->Arg(20)
    ->Arg(50)
    ->Arg(100);

// The loop of the two Get floors: one find and a copy of the record per
// iteration, inside `lock`'s read lock when one is given.
void FloorGetLoop(benchmark::State& state, pthread_rwlock_t* lock) {
  Floor& floor = Floor::Get();
  size_t next = 0;
  for (auto _ : state) {
    if (lock != nullptr) pthread_rwlock_rdlock(lock);
    FloorRecord record = floor.map.find(floor.keys[next])->second;
    if (lock != nullptr) pthread_rwlock_unlock(lock);
    if (++next == floor.keys.size()) next = 0;
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(state.iterations());
}

// One find of a random key and a copy of its 32-byte record: the floor of
// Get. The keys are read in the shuffled order, so consecutive finds are
// independent and the core overlaps their cache misses.
void BM_FloorGet(benchmark::State& state) { FloorGetLoop(state, nullptr); }
BENCHMARK(BM_FloorGet)->Unit(benchmark::kNanosecond)->UseRealTime();

// BM_FloorGet with each find inside a reader lock of the kind the engine
// takes (a pthread rwlock, read-locked and unlocked around the find): the
// lock's two atomic read-modify-writes order every later load after them, so
// one find's cache misses no longer overlap the next one's.
void BM_FloorGetLocked(benchmark::State& state) {
  static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
  FloorGetLoop(state, &lock);
}
BENCHMARK(BM_FloorGetLocked)->Unit(benchmark::kNanosecond)->UseRealTime();

// 1000 new ids made as the engine makes them, each inserted into the floor's
// map with a fresh record: the floor of SubmitBatch(1000). The map was
// reserved for its million keys with room to spare (capacity 2^21), so, like
// the engine's id index, it does not rehash while the run adds its 500,000.
void BM_FloorSubmit1000(benchmark::State& state) {
  Floor& floor = Floor::Get();
  static IdGenerator generator(kIdSeed + 1);
  static absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  for (auto _ : state) {
    now += absl::Milliseconds(1);
    for (size_t i = 0; i < kBatchSize; ++i) floor.map.emplace(generator.Next(now), FloorRecord{});
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.counters["keys_held"] = static_cast<double>(floor.map.size());
}
BENCHMARK(BM_FloorSubmit1000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kSubmitIterations);

// A batch's counts as 1000 batches of six relaxed atomic counters: one
// random batch's six loads, the floor of GetBatchCounts.
void BM_FloorAggregate(benchmark::State& state) {
  struct Counts {
    std::atomic<int32_t> by_state[kNumJobStates];
  };
  static Counts* const batches = new Counts[kBatchSize]();
  std::vector<uint32_t> order(kBatchSize);
  for (uint32_t i = 0; i < kBatchSize; ++i) order[i] = i;
  std::mt19937_64 rng(kShuffleSeed);
  Shuffle(order, rng);
  size_t next = 0;
  for (auto _ : state) {
    const Counts& counts = batches[order[next]];
    if (++next == order.size()) next = 0;
    BatchCounts out;
    for (int i = 0; i < kNumJobStates; ++i) {
      out.by_state[i] = counts.by_state[i].load(std::memory_order_relaxed);
      out.total += out.by_state[i];
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FloorAggregate)->Unit(benchmark::kNanosecond)->UseRealTime();

// The first 50 queued jobs, oldest first: the floor keeps a vector of the
// queued jobs' keys in creation order and copies the first 50 records.
void BM_FloorList50(benchmark::State& state) {
  Floor& floor = Floor::Get();
  static const std::vector<JobId>* const queued = [&floor] {
    auto* keys = new std::vector<JobId>(floor.keys);
    std::sort(keys->begin(), keys->end());
    return keys;
  }();
  std::vector<std::pair<JobId, FloorRecord>> page;
  page.reserve(kListLimit);
  for (auto _ : state) {
    page.clear();
    for (size_t i = 0; i < kListLimit; ++i) {
      page.emplace_back((*queued)[i], floor.map.find((*queued)[i])->second);
    }
    benchmark::DoNotOptimize(page.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FloorList50)->Unit(benchmark::kMicrosecond)->UseRealTime();

// A worker cycle with nothing but one shared queue: lock a std::mutex, pop
// the oldest record and mark it claimed; lock again and mark it finished.
// Two lock acquisitions per cycle, as the engine's Claim and Finish each
// take its writer lock once.
void BM_FloorClaimFinish(benchmark::State& state) {
  static std::mutex mu;
  static std::deque<FloorRecord*> queue;
  static std::vector<FloorRecord> records;
  if (state.thread_index() == 0) {
    const size_t n = static_cast<size_t>(state.max_iterations) * state.threads();
    records.assign(n, FloorRecord{});
    queue.clear();
    for (FloorRecord& record : records) queue.push_back(&record);
  }
  int64_t stamp = 0;
  for (auto _ : state) {
    FloorRecord* record;
    {
      std::lock_guard<std::mutex> lock(mu);
      record = queue.front();
      queue.pop_front();
      record->state = JobState::kRendering;
      record->updated_at = ++stamp;
      ++record->attempts;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      record->state = JobState::kFinished;
      record->updated_at = ++stamp;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FloorClaimFinish)
    ->Unit(benchmark::kNanosecond)
    ->UseRealTime()
    ->Iterations(kClaimIterations)
    ->Threads(1)
    ->Threads(2)
    ->Threads(8);

// ---- The engine -------------------------------------------------------------

void BM_CancelMany1000Leaves(benchmark::State& state) {
  Resident& resident = Resident::Get();
  Engine& engine = resident.engine();
  absl::Span<const JobId> ids = resident.NextCancelIds(nullptr);
  const int64_t refill_before = resident.refill_nanos();
  const int64_t start = NowNanos();
  for (auto _ : state) {
    auto cancelled = engine.CancelMany(kTeam, ids);
    if (!cancelled.ok() || cancelled->size() != kBatchSize) {
      state.SkipWithError(cancelled.ok() ? "CancelMany cancelled an unexpected number of jobs"
                                         : cancelled.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cancelled);
    // Taking the next ids is a few instructions (a span into the pool), far
    // cheaper than PauseTiming/ResumeTiming around it would be.
    ids = resident.NextCancelIds(&state);
  }
  const int64_t loop_nanos = NowNanos() - start - (resident.refill_nanos() - refill_before);
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.counters["ns_per_1000_ops"] = NsPerIteration(loop_nanos);
}
BENCHMARK(BM_CancelMany1000Leaves)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kCancelIterations);

void BM_SubmitBatch1000(benchmark::State& state) {
  Engine& engine = Resident::Get().engine();
  const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
  for (auto _ : state) {
    auto created = engine.SubmitBatch(kTeam, specs);
    if (!created.ok() || created->success_count != kBatchSize) {
      state.SkipWithError(created.ok() ? "SubmitBatch did not create every job"
                                       : created.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(created);
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.counters["jobs_held"] = static_cast<double>(engine.JobCount());
}
BENCHMARK(BM_SubmitBatch1000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kSubmitIterations);

// The same submit, on an empty engine of its own made before the timed loop
// (so every repetition starts alike and the job count stays bounded), with
// state.range(0) subscribers: none, or one whose callback sleeps 1 ms per
// event. The sleeper takes 1,000 events a second while the loop publishes a
// thousand times that, so its queue fills and the rest is dropped; the
// counters say how many it took and dropped by the end of the loop. The
// subscription is stopped after the loop (Stop waits at most for the one
// sleep in progress and discards the queue).
void BM_SubmitBatch1000Subscribers(benchmark::State& state) {
  ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
  Options options;
  options.clock = &clock;
  options.id_seed = kIdSeed;
  auto engine = Engine::Create(options);
  if (!engine.ok()) Die("Engine::Create", engine.status());
  std::vector<Subscription> subscriptions;
  SubscribeOptions subscribe;
  subscribe.max_queued = kSubscriberQueue;
  for (int64_t i = 0; i < state.range(0); ++i) {
    subscriptions.push_back((*engine)->Subscribe(
        [](const TransitionEvent&) { std::this_thread::sleep_for(std::chrono::milliseconds(1)); },
        subscribe));
  }
  const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
  for (auto _ : state) {
    auto created = (*engine)->SubmitBatch(kTeam, specs);
    if (!created.ok() || created->success_count != kBatchSize) {
      state.SkipWithError(created.ok() ? "SubmitBatch did not create every job"
                                       : created.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(created);
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.counters["jobs_held"] = static_cast<double>((*engine)->JobCount());
  uint64_t delivered = 0, dropped = 0;
  for (const Subscription& subscription : subscriptions) {
    delivered += subscription.delivered();
    dropped += subscription.dropped();
  }
  state.counters["events_delivered"] = static_cast<double>(delivered);
  state.counters["events_dropped"] = static_cast<double>(dropped);
}
BENCHMARK(BM_SubmitBatch1000Subscribers)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kSubscriberSubmitIterations)
    ->Arg(0)
    ->Arg(1);

void BM_Get(benchmark::State& state) {
  Resident& resident = Resident::Get();
  const Engine& engine = resident.engine();
  const std::vector<JobId>& ids = resident.read_set();
  size_t next = 0;
  for (auto _ : state) {
    auto job = engine.Get(kTeam, ids[next]);
    if (++next == ids.size()) next = 0;
    if (!job.ok()) {
      state.SkipWithError(job.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(job);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Get)->Unit(benchmark::kNanosecond)->UseRealTime();

void BM_BatchAggregate(benchmark::State& state) {
  Resident& resident = Resident::Get();
  const Engine& engine = resident.engine();
  const std::vector<BatchId>& batches = resident.batches();
  size_t next = 0;
  for (auto _ : state) {
    auto counts = engine.GetBatchCounts(kTeam, batches[next]);
    if (++next == batches.size()) next = 0;
    if (!counts.ok()) {
      state.SkipWithError(counts.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(counts);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BatchAggregate)->Unit(benchmark::kNanosecond)->UseRealTime();

// CancelMany(team, 1000 parent ids) of families of 1 parent + 10 children:
// each call cancels 11,000 jobs (the parents by rule E, their children by
// rule U). Each repetition first submits its families into the shared engine
// (outside the timed loop): kFamilyIterations x 1000 families.
void BM_CancelMany1000Families(benchmark::State& state) {
  Resident& resident = Resident::ForFamilies();
  Engine& engine = resident.engine();
  const std::vector<JobId> roots = resident.SubmitFamilies(
      kBatchSize * static_cast<size_t>(state.max_iterations), kFamilyChildren);
  size_t next = 0;
  for (auto _ : state) {
    absl::Span<const JobId> ids(roots.data() + next, kBatchSize);
    next += kBatchSize;
    auto cancelled = engine.CancelMany(kTeam, ids);
    if (!cancelled.ok() || cancelled->size() != kBatchSize * (1 + kFamilyChildren)) {
      state.SkipWithError(cancelled.ok() ? "CancelMany cancelled an unexpected number of jobs"
                                         : cancelled.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cancelled);
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize * (1 + kFamilyChildren));
  state.counters["jobs_held"] = static_cast<double>(engine.JobCount());
}
BENCHMARK(BM_CancelMany1000Families)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kFamilyIterations);

// CancelMany(team, 100 parent ids) of families of 1 + k: how the cost of a
// cancel grows with the family (counter jobs_per_call = 100 x (1 + k)).
void BM_CancelFamilySize(benchmark::State& state) {
  Resident& resident = Resident::ForFamilies();
  Engine& engine = resident.engine();
  const int children = static_cast<int>(state.range(0));
  const size_t jobs = kFamilyRoots * (1 + static_cast<size_t>(children));
  const std::vector<JobId> roots =
      resident.SubmitFamilies(kFamilyRoots * static_cast<size_t>(state.max_iterations), children);
  size_t next = 0;
  for (auto _ : state) {
    absl::Span<const JobId> ids(roots.data() + next, kFamilyRoots);
    next += kFamilyRoots;
    auto cancelled = engine.CancelMany(kTeam, ids);
    if (!cancelled.ok() || cancelled->size() != jobs) {
      state.SkipWithError(cancelled.ok() ? "CancelMany cancelled an unexpected number of jobs"
                                         : cancelled.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cancelled);
  }
  state.SetItemsProcessed(state.iterations() * jobs);
  state.counters["jobs_per_call"] = static_cast<double>(jobs);
}
BENCHMARK(BM_CancelFamilySize)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(kFamilySizeIterations)
    ->ArgName("k")
    ->Arg(1)
    ->Arg(2)
    ->Arg(5)
    ->Arg(10)
    ->Arg(20)
    ->Arg(50)
    ->Arg(100);

// List(team, {states: [queued], limit: 50}): the first page, oldest first,
// of the million queued jobs.
void BM_List50(benchmark::State& state) {
  const Engine& engine = Resident::Get().engine();
  ListQuery query;
  query.states = {JobState::kQueued};
  query.limit = kListLimit;
  for (auto _ : state) {
    auto page = engine.List(kTeam, query);
    if (!page.ok() || page->size() != kListLimit) {
      state.SkipWithError(page.ok() ? "List returned a short page"
                                    : page.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_List50)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- Workers ----------------------------------------------------------------

// The claim + finish benchmark's engine: queued leaf jobs for one team, built
// like the shared engine's (batches of 1000, 1 ms apart, the same id seed) but
// separate from it, because every cycle turns a queued job into a finished
// one. Built on first use; never destroyed.
class ClaimQueue {
 public:
  static ClaimQueue& Get() {
    static ClaimQueue* const queue = new ClaimQueue();
    return *queue;
  }

  Engine& engine() { return *engine_; }

  // Sets aside `n` queued jobs for the run about to start, first submitting
  // more (in batches of 1000) if fewer than `n` are left. Called by one thread
  // before the timed loop; Google Benchmark starts no thread's loop before
  // every thread has reached it, so the others never see a short queue.
  void Reserve(size_t n) {
    while (unreserved_ < n) SubmitBatch();
    unreserved_ -= n;
  }

  // An engine with `initial_jobs` queued jobs. BM_ClaimFinish's shared queue
  // comes from Get(); BM_ClaimFinishSeparateEngines makes one per thread.
  explicit ClaimQueue(size_t initial_jobs = kClaimQueuedJobs) {
    Options options;
    options.clock = &clock_;
    options.id_seed = kIdSeed;
    auto engine = Engine::Create(options);
    if (!engine.ok()) Die("Engine::Create", engine.status());
    engine_ = *std::move(engine);
    while (unreserved_ < initial_jobs) SubmitBatch();
  }

 private:
  void SubmitBatch() {
    clock_.AdvanceMillis(1);
    auto result = engine_->SubmitBatch(kTeam, specs_);
    if (!result.ok()) Die("SubmitBatch", result.status());
    if (result->success_count != kBatchSize) {
      Die("SubmitBatch", absl::InternalError("not every spec was created"));
    }
    unreserved_ += kBatchSize;
  }

  const std::vector<JobSpec> specs_ = std::vector<JobSpec>(kBatchSize, LeafSpec());
  AtomicClock clock_;
  std::unique_ptr<Engine> engine_;
  size_t unreserved_ = 0;  // queued jobs no run has set aside
};

// The timed loop of the claim + finish benchmarks: one worker cycle per
// iteration on `engine`.
void ClaimFinishLoop(benchmark::State& state, Engine& engine) {
  const ClaimRequest request;  // Claim({}): any queued job, the default lease
  const FinishReport report;   // Finish(id, token, {}): keep the planned URL
  for (auto _ : state) {
    auto claimed = engine.Claim(request);
    if (!claimed.ok()) {
      state.SkipWithError(claimed.status().ToString().c_str());
      break;
    }
    auto finished = engine.Finish(claimed->job.id, claimed->lease.token, report);
    if (!finished.ok()) {
      state.SkipWithError(finished.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(finished);
  }
  state.SetItemsProcessed(state.iterations());
}

// One worker cycle per iteration, from state.threads() threads at once, each
// running kClaimIterations cycles. With UseRealTime the reported time is the
// wall time of the run over all threads' cycles, and items_per_second is
// cycles per second over all threads: the figure whose 2-thread / 1-thread
// ratio contract §12 sets at >= 1.6.
void BM_ClaimFinish(benchmark::State& state) {
  ClaimQueue& queue = ClaimQueue::Get();
  if (state.thread_index() == 0) {
    queue.Reserve(static_cast<size_t>(state.max_iterations) * state.threads());
  }
  ClaimFinishLoop(state, queue.engine());
}
BENCHMARK(BM_ClaimFinish)
    ->Unit(benchmark::kNanosecond)
    ->UseRealTime()
    ->Iterations(kClaimIterations)
    ->Threads(1)
    ->Threads(2)
    ->Threads(8);

// The same cycle from 2 threads, each on an engine of its own (a farm split
// in two): nothing is shared between the threads but the allocator, so this
// shows what the cycle costs when no cache line moves between cores. Set
// beside BM_ClaimFinish/threads:2, it separates the engine's own cost from the
// cost of sharing one engine's queue, indexes and lock.
void BM_ClaimFinishSeparateEngines(benchmark::State& state) {
  // One queue per thread, built on first use by the thread that owns it.
  static ClaimQueue* queues[2] = {nullptr, nullptr};
  ClaimQueue*& queue = queues[state.thread_index()];
  if (queue == nullptr) queue = new ClaimQueue(/*initial_jobs=*/5 * kClaimIterations);
  queue->Reserve(static_cast<size_t>(state.max_iterations));
  ClaimFinishLoop(state, queue->engine());
}
BENCHMARK(BM_ClaimFinishSeparateEngines)
    ->Unit(benchmark::kNanosecond)
    ->UseRealTime()
    ->Iterations(kClaimIterations)
    ->Threads(2);

// A floor for sharing: 2 threads take turns writing one atomic, so the cache
// line holding it moves to the other core on every write. With UseRealTime
// the reported time is the run's wall time over the iterations of both
// threads: one hand-off of a line from one core to the other. A line that two
// threads writing to one engine both touch in every cycle costs each thread
// about that much per cycle.
void BM_FloorCacheLineHandoff(benchmark::State& state) {
  static std::atomic<int64_t> turn{0};
  if (state.thread_index() == 0) turn.store(0);
  const int64_t me = state.thread_index();
  int64_t round = 0;
  for (auto _ : state) {
    const int64_t mine = 2 * round + me;
    while (turn.load(std::memory_order_acquire) != mine) {
    }
    turn.store(mine + 1, std::memory_order_release);
    ++round;
  }
}
BENCHMARK(BM_FloorCacheLineHandoff)
    ->Unit(benchmark::kNanosecond)
    ->UseRealTime()
    ->Iterations(1'000'000)
    ->Threads(2);

// ---- Resident memory --------------------------------------------------------

// Resident bytes of this process, from /proc/self/statm.
int64_t ResidentBytes() {
  long pages_total = 0, pages_resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr || std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2) {
    Die("/proc/self/statm", absl::UnavailableError("cannot read"));
  }
  std::fclose(statm);
  return static_cast<int64_t>(pages_resident) * sysconf(_SC_PAGESIZE);
}

// Run in a fresh process (see RunResidentProbe): builds a million jobs the
// way the shared engine is built, or the floor's map of a million records,
// and prints how many bytes the process's resident set grew per job.
int ResidentProbe(std::string_view what) {
  const int64_t before = ResidentBytes();
  if (what == "engine") {
    ManualClock clock(absl::FromUnixSeconds(1'700'000'000));
    Options options;
    options.clock = &clock;
    options.id_seed = kIdSeed;
    auto engine = Engine::Create(options);
    if (!engine.ok()) Die("Engine::Create", engine.status());
    const std::vector<JobSpec> specs(kBatchSize, LeafSpec());
    for (size_t done = 0; done < kResidentJobs; done += kBatchSize) {
      clock.Advance(absl::Milliseconds(1));
      auto result = (*engine)->SubmitBatch(kTeam, specs);
      if (!result.ok()) Die("SubmitBatch", result.status());
    }
    std::printf("%.3f\n", static_cast<double>(ResidentBytes() - before) / kResidentJobs);
    std::fflush(stdout);
    std::_Exit(0);  // the million jobs need no teardown
  }
  if (what == "floor") {
    IdGenerator generator(kIdSeed);
    absl::Time now = absl::FromUnixSeconds(1'700'000'000);
    auto* map = new absl::flat_hash_map<JobId, FloorRecord>();
    for (size_t i = 0; i < kResidentJobs; ++i) {
      if (i % kBatchSize == 0) now += absl::Milliseconds(1);
      map->emplace(generator.Next(now), FloorRecord{});
    }
    std::printf("%.3f\n", static_cast<double>(ResidentBytes() - before) / kResidentJobs);
    std::fflush(stdout);
    std::_Exit(0);
  }
  std::fprintf(stderr, "engine_benchmark: unknown probe \"%.*s\"\n", static_cast<int>(what.size()),
               what.data());
  return 2;
}

// Runs this program again as `--resident_probe=<what>` and returns the bytes
// per job it prints. A fresh process, so that memory freed by the benchmarks
// that ran before cannot be reused and hide what the million jobs take.
double RunResidentProbe(const char* what) {
  int out[2];
  if (pipe(out) != 0) Die("pipe", absl::InternalError(std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string flag = std::string("--resident_probe=") + what;
  char exe[] = "/proc/self/exe";
  char* argv[] = {exe, const_cast<char*>(flag.c_str()), nullptr};
  pid_t pid;
  const int spawned = posix_spawn(&pid, exe, &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) Die("posix_spawn", absl::InternalError(std::strerror(spawned)));
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof(buffer))) > 0)
    text.append(buffer, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
    Die("resident probe", absl::InternalError("the probe process failed"));
  }
  return std::strtod(text.c_str(), nullptr);
}

// Resident bytes per job of an engine holding 1M leaf jobs (template id only,
// no tags; contract §12's "short strings"), measured in a fresh process: counter
// bytes_per_job. Goal: <= 256. The timed figure is the probe's whole run
// (process start, building the million jobs) and means nothing.
void BM_ResidentBytes(benchmark::State& state) {
  double bytes = 0;
  for (auto _ : state) bytes = RunResidentProbe("engine");
  state.counters["bytes_per_job"] = bytes;
}
BENCHMARK(BM_ResidentBytes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

// The same for the floor's map of a million 32-byte records.
void BM_FloorResidentBytes(benchmark::State& state) {
  double bytes = 0;
  for (auto _ : state) bytes = RunResidentProbe("floor");
  state.counters["bytes_per_job"] = bytes;
}
BENCHMARK(BM_FloorResidentBytes)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace
}  // namespace cascade

// BENCHMARK_MAIN, plus the resident-memory probe mode (RunResidentProbe).
int main(int argc, char** argv) {
  cascade::bench::UseProductionAbseil();
  constexpr std::string_view kProbe = "--resident_probe=";
  if (argc == 2 && std::string_view(argv[1]).substr(0, kProbe.size()) == kProbe) {
    return cascade::ResidentProbe(std::string_view(argv[1]).substr(kProbe.size()));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
