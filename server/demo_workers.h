// Copyright 2026 The Cascade Authors.
//
// Simulated render workers for `cascade-server --demo-workers N`, so that a
// newcomer sees jobs move: each claims the next job, reports progress over a
// few seconds, and finishes it with a made-up outputUrl, or, now and then,
// fails it as worth retrying (contract §14: the job comes back queued with
// attempts 2, stats.error and retryAt, and usually finishes at its next
// attempt). They call the engine directly, as an embedded worker would.

#ifndef CASCADE_SERVER_DEMO_WORKERS_H_
#define CASCADE_SERVER_DEMO_WORKERS_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "base/mutex.h"
#include "cascade/cascade.h"

namespace cascade::server {

struct DemoWorkerOptions {
  int workers = 1;
  // How long a render takes, in `steps` progress reports.
  absl::Duration render_time = absl::Seconds(3);
  int steps = 5;
  // Share of attempts that fail (with retry: true). Default: 1 in 10.
  double failure_rate = 0.1;
  // Which attempts fail is drawn from (seed, job id, attempt number), so
  // with a fixed seed the same jobs fail the same attempts whichever worker
  // takes them. Default: a new seed every run.
  std::optional<uint64_t> seed;
  // How long an idle worker waits before it asks again.
  absl::Duration idle_poll = absl::Milliseconds(250);
};

class DemoWorkers {
 public:
  // Starts the workers at once. `engine` is not owned and must outlive them.
  DemoWorkers(Engine* engine, const DemoWorkerOptions& options);
  // Stops them (a render under way is released back to the queue).
  ~DemoWorkers();
  DemoWorkers(const DemoWorkers&) = delete;
  DemoWorkers& operator=(const DemoWorkers&) = delete;

  // Renders finished, and attempts failed (each failed attempt counts).
  uint64_t finished() const { return finished_.load(); }
  uint64_t failed() const { return failed_.load(); }

 private:
  void Run(int index);
  // Sleeps for `d` unless stopped first; false once stopped.
  bool SleepFor(absl::Duration d);

  Engine* const engine_;
  const DemoWorkerOptions options_;
  const uint64_t seed_;
  internal::Mutex mu_;
  internal::CondVar cv_;  // stop_ was set
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> finished_{0};
  std::atomic<uint64_t> failed_{0};
  std::vector<std::thread> threads_;  // last: they start after everything they use
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_DEMO_WORKERS_H_
