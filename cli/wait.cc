// Copyright 2026 The Cascade Authors.
//
// WaitForJobs: the stream thread marks the counts stale; the calling thread
// reads them when they are (not more often than min_read_gap) or when the
// poll interval has passed, and redraws the progress when they changed.

#include "cli/wait.h"

#include <chrono>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "base/mutex.h"
#include "cli/event_stream.h"
#include "cli/progress.h"
#include "wire/strings.h"

namespace cascade::cli {
namespace {

using ::cascade::internal::CondVar;
using ::cascade::internal::Mutex;
using ::cascade::internal::MutexLock;
using wire::Sv;

// How often the calling thread looks at the interrupt flag while it waits.
constexpr auto kInterruptPoll = std::chrono::milliseconds(100);

// Reads worth trying again: no answer, or the server is busy or restarting.
bool Transient(const absl::Status& status) {
  const int http = HttpStatusOf(status);
  if (http != 0) return http >= 500 || http == 429 || http == 408;
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded;
}

// The stream thread's news for the calling thread.
class Staleness {
 public:
  void Mark() {
    {
      MutexLock lock(&mu_);
      stale_ = true;
    }
    cv_.SignalAll();
  }
  // Waits until the counts are stale or `until`, at most kInterruptPoll;
  // returns whether they are stale, and clears the mark.
  bool WaitAndTake(std::chrono::steady_clock::time_point until) {
    MutexLock lock(&mu_);
    const auto limit = std::min(until, std::chrono::steady_clock::now() + kInterruptPoll);
    cv_.WaitUntil(&mu_, limit, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stale_; });
    const bool was = stale_;
    stale_ = false;
    return was;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool stale_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<StateCounts> ReadCounts(const ApiClient& client, const WaitTarget& target) {
  if (target.batch) {
    absl::StatusOr<boost::json::value> batch =
        client.CallJson(net::Method::kGet, absl::StrCat("/batches/", Sv(target.id)));
    if (!batch.ok()) return batch.status();
    return CountsFromBatch(*batch);
  }
  absl::StatusOr<Answer> graph =
      client.Call(net::Method::kGet, absl::StrCat("/jobs/", Sv(target.id), "/graph"));
  if (!graph.ok()) return graph.status();
  return CountsFromGraph(graph->body);
}

absl::StatusOr<StateCounts> WaitForJobs(const ApiClient& client, const WaitTarget& target,
                                        const WaitOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto poll = absl::ToChronoNanoseconds(options.poll_interval);
  const auto gap = absl::ToChronoNanoseconds(options.min_read_gap);

  Staleness staleness;
  std::atomic<bool> stop_stream{false};
  std::thread stream([&] {
    FollowOptions follow;
    follow.query = absl::StrCat(target.batch ? "batch=" : "job=", Sv(target.id));
    follow.stop = &stop_stream;
    follow.on_event = [&](const SseEvent& event) {
      // A progress event changes no count; a transition or a reset may.
      if (event.type != "progress") staleness.Mark();
    };
    // Whatever becomes of the stream (refused, a server without /events),
    // the polling goes on: its outcome is not needed.
    FollowEvents(client, follow).IgnoreError();
  });
  auto stop = [&] {
    stop_stream = true;
    stream.join();
  };

  std::optional<StateCounts> shown;
  absl::Status result = absl::OkStatus();
  bool failing = false;  // since failing_since (no optional: GCC 12 warns on it)
  Clock::time_point failing_since;
  Clock::time_point last_read = Clock::now() - gap;
  Clock::time_point next_poll = Clock::now();  // read at once
  bool stale = false;
  while (true) {
    if (options.interrupted != nullptr && options.interrupted->load()) {
      result = absl::CancelledError("interrupted");
      break;
    }
    const Clock::time_point now = Clock::now();
    if (!((stale && now >= last_read + gap) || now >= next_poll)) {
      // Sleep until the poll is due, an event marks the counts stale, or the
      // interrupt poll; once stale, until the gap has passed.
      const Clock::time_point until = stale ? last_read + gap : next_poll;
      stale = staleness.WaitAndTake(until) || stale;
      continue;
    }
    stale = false;
    last_read = Clock::now();
    next_poll = last_read + poll;
    absl::StatusOr<StateCounts> counts = ReadCounts(client, target);
    if (!counts.ok()) {
      if (!Transient(counts.status())) {
        result = counts.status();
        break;
      }
      if (!failing) failing_since = last_read;
      failing = true;
      if (last_read - failing_since >= absl::ToChronoNanoseconds(options.give_up_after)) {
        result = counts.status();
        break;
      }
      continue;
    }
    failing = false;
    if (!shown.has_value() || *shown != *counts) {
      *options.out << ProgressUpdate(*counts, options.tty) << std::flush;
      shown = *counts;
    }
    if (counts->done()) break;
  }
  stop();
  if (shown.has_value()) *options.out << ProgressEnd(options.tty) << std::flush;
  if (!result.ok()) return result;
  return *shown;
}

}  // namespace cascade::cli
