// Copyright 2026 The Cascade Authors.
//
// What the benchmark programs share: the workload's constants (the same jobs,
// ids and shuffles in the engine's rows and the SQLite peer's, so that the
// two do the same work), and small helpers for building fixtures and
// reading clocks.

#ifndef CASCADE_BENCH_BENCH_COMMON_H_
#define CASCADE_BENCH_BENCH_COMMON_H_

#include <sys/resource.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "cascade/cascade.h"

namespace cascade::bench {

// Called first by every benchmark program that runs an engine: Abseil as a
// production process has it. Debian's libabsl is built without NDEBUG, so its
// debug deadlock detection is on by default, and every absl::Mutex lock and
// unlock (the engine's lock, engine/util/shared_mutex.h) then also updates a
// graph of held locks behind one global lock (~25 ns a lock and unlock on one
// thread, and a line every thread shares); a release build of Abseil leaves it
// off. cascade-server turns it off the same way; docs/embedding.md tells
// embedders.
inline void UseProductionAbseil() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

// contract §12's resident jobs, submitted as 1000 batches of 1000 leaves for one
// team, 1 ms apart from kClockStartSeconds, with ids from kIdSeed.
inline constexpr size_t kResidentJobs = 1'000'000;
inline constexpr size_t kBatchSize = 1000;
static_assert(kBatchSize == kMaxBatchJobs && kBatchSize == kMaxCancelIds);
// Of the million, the ids Get reads (no benchmark cancels them); the rest are
// the cancel pool.
inline constexpr size_t kReadSetSize = 200'000;
inline constexpr uint64_t kIdSeed = 42;
inline constexpr uint64_t kShuffleSeed = 7;
inline constexpr char kTeam[] = "bench";
inline constexpr int64_t kClockStartSeconds = 1'700'000'000;

// Aborts the process: a fixture that cannot be built makes every figure
// meaningless.
[[noreturn]] inline void Die(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "benchmark fixture: %s: %s\n", what, status.ToString().c_str());
  std::abort();
}

// Monotonic wall-clock nanoseconds.
inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Fisher-Yates with our own index draw, so the order is the same with every
// standard library (std::shuffle's is not specified).
template <typename T>
void Shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

// A leaf spec with short strings: a template id that fits the small-string
// buffer, no tags, no children.
inline JobSpec LeafSpec() {
  JobSpec spec;
  spec.template_id = "tpl-1";
  return spec;
}

// A counter holding the wall time of one iteration in nanoseconds, given the
// wall time of the whole timed loop. (Google Benchmark 1.7.1 can only express
// this as an inverted rate, which its console prints with a misleading "s".)
inline benchmark::Counter NsPerIteration(int64_t loop_nanos) {
  return benchmark::Counter(static_cast<double>(loop_nanos), benchmark::Counter::kAvgIterations);
}

// A manual clock read with one relaxed atomic load (ManualClock takes a mutex
// on every read, which several threads would contend for outside what is
// measured). Manual, so an engine on it starts no timer or delivery thread;
// as nothing advances it during a timed loop, no lease expires.
class AtomicClock final : public Clock {
 public:
  absl::Time Now() const override {
    return absl::FromUnixMillis(millis_.load(std::memory_order_relaxed));
  }
  bool IsManual() const override { return true; }
  // Between timed loops only.
  void AdvanceMillis(int64_t ms) { millis_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> millis_{kClockStartSeconds * 1000};
};

// The process's resource use and the wall clock, at one moment.
struct Usage {
  int64_t wall_ns = 0;
  int64_t user_ns = 0;
  int64_t sys_ns = 0;
  int64_t switches = 0;

  static Usage Now() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    auto ns = [](const timeval& tv) {
      return int64_t{tv.tv_sec} * 1'000'000'000 + int64_t{tv.tv_usec} * 1000;
    };
    return Usage{NowNanos(), ns(ru.ru_utime), ns(ru.ru_stime), ru.ru_nvcsw + ru.ru_nivcsw};
  }
};

// Sets the CPU counters of a timed loop that made `transitions` acknowledged
// transitions between `before` and `after` (the whole process: callers and
// any writer thread): cpu_cores, user_us_per_transition,
// sys_us_per_transition, switches_per_transition. Sets none for an empty loop.
inline void SetCpuCounters(benchmark::State& state, const Usage& before, const Usage& after,
                           double transitions) {
  const double wall_ns = static_cast<double>(after.wall_ns - before.wall_ns);
  if (transitions <= 0 || wall_ns <= 0) return;
  state.counters["cpu_cores"] =
      static_cast<double>(after.user_ns - before.user_ns + after.sys_ns - before.sys_ns) / wall_ns;
  state.counters["user_us_per_transition"] =
      static_cast<double>(after.user_ns - before.user_ns) / 1e3 / transitions;
  state.counters["sys_us_per_transition"] =
      static_cast<double>(after.sys_ns - before.sys_ns) / 1e3 / transitions;
  state.counters["switches_per_transition"] =
      static_cast<double>(after.switches - before.switches) / transitions;
}

}  // namespace cascade::bench

#endif  // CASCADE_BENCH_BENCH_COMMON_H_
