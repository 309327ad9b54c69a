// Copyright 2026 The Cascade Authors.

#include "server/demo_workers.h"

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cascade::server {

namespace {

// Whether attempt `attempt` of job `id` fails: a draw from (seed, id,
// attempt) alone, so it does not depend on which worker took the job.
bool AttemptFails(uint64_t seed, JobId id, int attempt, double rate) {
  if (rate <= 0) return false;
  std::vector<uint32_t> key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                               static_cast<uint32_t>(attempt)};
  for (char c : id.ToString()) key.push_back(static_cast<unsigned char>(c));
  std::seed_seq seq(key.begin(), key.end());
  std::mt19937_64 rng(seq);
  return std::uniform_real_distribution<double>(0, 1)(rng) < rate;
}

}  // namespace

DemoWorkers::DemoWorkers(Engine* engine, const DemoWorkerOptions& options)
    : engine_(engine),
      options_(options),
      seed_(options.seed.has_value()
                ? *options.seed
                : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back(&DemoWorkers::Run, this, i);
}

DemoWorkers::~DemoWorkers() {
  {
    internal::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  for (std::thread& t : threads_) t.join();
}

bool DemoWorkers::SleepFor(absl::Duration d) {
  internal::MutexLock lock(&mu_);
  return !cv_.WaitFor(&mu_, absl::ToChronoMilliseconds(d),
                      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; });
}

void DemoWorkers::Run(int index) {
  ClaimRequest request;
  request.worker = absl::StrCat("demo-worker-", index);
  while (true) {
    absl::StatusOr<ClaimedJob> claimed = engine_->Claim(request);
    if (!claimed.ok()) {
      if (!SleepFor(options_.idle_poll)) return;
      continue;
    }
    const JobId id = claimed->job.id;
    const std::string& lease = claimed->lease.token;
    bool keep_going = true;
    for (int step = 1; step <= options_.steps && keep_going; ++step) {
      if (!SleepFor(options_.render_time / options_.steps)) {
        engine_->Release(id, lease).IgnoreError();  // back to the queue for the next start
        return;
      }
      HeartbeatReport report;
      report.progress = 100.0 * step / (options_.steps + 1);
      absl::StatusOr<HeartbeatResult> beat = engine_->Heartbeat(id, lease, report);
      if (!beat.ok()) keep_going = false;  // the lease is gone (expired, or cancelled)
      if (beat.ok() && beat->cancel_requested) {
        engine_->Release(id, lease).IgnoreError();  // acknowledges the abort
        keep_going = false;
      }
    }
    if (!keep_going) continue;
    if (AttemptFails(seed_, id, claimed->job.attempts, options_.failure_rate)) {
      FailReport report;
      report.error = "demo render failed: the simulated GPU ran out of memory";
      report.retry = true;  // worth another attempt (contract §14)
      if (engine_->Fail(id, lease, report).ok()) failed_.fetch_add(1);
    } else {
      FinishReport report;
      report.output_url = absl::StrCat("https://renders.example.com/demo/", id.ToString(), ".mp4");
      if (engine_->Finish(id, lease, report).ok()) finished_.fetch_add(1);
    }
  }
}

}  // namespace cascade::server
