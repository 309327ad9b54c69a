// Copyright 2026 The Cascade Authors.
//
// File: server/event_feed.h
// -----------------------------------------------------------------------------
// EventFeed: the frames of GET /api/v2/events (contract §16), Server-Sent
// Events of the engine's transitions and of throttled progress.
//
// One engine subscription (with progress reports) turns each event into one
// SSE frame, formatted once, and appends it to a bounded window. Every open
// stream is only a cursor into that window: its connection pulls the frames
// after the cursor that pass the stream's filter whenever its socket has
// taken the previous ones (server/http_types.h's StreamBody). So:
//   - the engine never waits for a client, and an event costs the feed the
//     same with one stream or a thousand;
//   - a client that reads slower than events arrive falls out of the window
//     and is disconnected (it reconnects with Last-Event-ID and is told to
//     re-read state): it is never waited for and never holds more memory;
//   - the window is also what Last-Event-ID resumes from.
//
// Frames (each ends with a blank line):
//   retry: 2000                          the first bytes of every stream
//   event: transition / id: E-S / data: {"sequence","jobId","batchId","from",
//          "to","cause","relatedJobId","time"}
//   event: progress / data: {"jobId","batchId","progress","time"}
//          at most one per job per `progress_interval` (the latest value wins
//          and is sent when the interval ends); no id
//   event: reset / id: E-S / data: {"sequence"}
//          the stream cannot be continued from where the client was (its
//          Last-Event-ID is not in the window, or the feed lost events): the
//          client re-reads state with the ordinary routes
//   : keep-alive                          every `keep_alive`
// An id is "<epoch>-<sequence>": the epoch is random per feed, so an id from
// another server process is never taken for one of this one's.
//
// Thread-safe. The engine must outlive the feed; streams may outlive it (they
// end when it is destroyed).

#ifndef CASCADE_SERVER_EVENT_FEED_H_
#define CASCADE_SERVER_EVENT_FEED_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/mutex.h"
#include "cascade/cascade.h"
#include "server/http_types.h"

namespace cascade::server {

struct EventFeedOptions {
  // Frames kept: how far back Last-Event-ID can resume, and how far a client
  // may fall behind before it is disconnected. Default: 32,768.
  // REQUIRES: > 0.
  size_t window = size_t{1} << 15;
  // Streams open at once; Open refuses more (Unavailable). Default: 4,096.
  size_t max_streams = 4096;
  // A comment is sent this often, so that proxies keep an idle stream open.
  // Default: 15 s. REQUIRES: > 0.
  absl::Duration keep_alive = absl::Seconds(15);
  // At most one progress frame per job this often. Default: 1 s.
  absl::Duration progress_interval = absl::Seconds(1);
  // Where the keep-alive and progress intervals read time. Not owned.
  // Default: Clock::Real().
  Clock* clock = Clock::Real();
};

// Which events a stream carries: the team's, narrowed to one batch or to
// one job's family (every job GetFamily names, and the jobs that join it
// later by naming a member as parent or prerequisite).
struct StreamFilter {
  std::string team;
  std::optional<BatchId> batch;
  std::optional<JobId> job;
};

class EventFeed {
 public:
  // Subscribes to `engine` (not owned).
  explicit EventFeed(Engine* engine, EventFeedOptions options = {});
  // Ends every open stream.
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // A new stream for `filter` (Response::stream). With a `last_event_id`
  // still in the window it first replays what came after it; with another
  // non-empty one it starts with a reset frame. NotFound when the filter's
  // batch or job is not the team's; Unavailable at max_streams.
  absl::StatusOr<std::shared_ptr<StreamBody>> Open(const StreamFilter& filter,
                                                   std::string_view last_event_id);

  // Blocks until every engine event published before the call is in the
  // window (or `timeout` passed); true if it is.
  bool Flush(absl::Duration timeout) { return subscription_.Flush(timeout); }

  // Streams open now, and streams ended because their client fell behind.
  size_t open_streams() const;
  uint64_t slow_disconnects() const;

  class Core;     // the window and the streams' registry (event_feed.cc)
  struct Reader;  // an open stream, as the window sees it

 private:
  // The throttle of progress frames, per job: when one was last sent, and
  // the latest report held back since.
  struct Progress {
    absl::Time last_sent = absl::InfinitePast();
    std::optional<TransitionEvent> held;
  };

  // On the subscription's thread.
  void OnEvent(const TransitionEvent& event);
  // `time` formatted (FormatTimestamp), remembered for the next event of the
  // same millisecond. The subscription's thread's.
  const std::string& Stamp(absl::Time time);
  // On ticker_: sends held-back progress and keep-alives.
  void Tick();

  Engine* const engine_;
  const EventFeedOptions options_;
  const std::shared_ptr<Core> core_;
  uint64_t last_sequence_ = 0;  // the subscription's thread's, as are the two below
  int64_t stamp_ms_ = -1;
  std::string stamp_;
  internal::Mutex progress_mu_;
  absl::flat_hash_map<JobId, Progress> progress_ ABSL_GUARDED_BY(progress_mu_);
  internal::Mutex tick_mu_;
  internal::CondVar tick_cv_;
  bool stopping_ ABSL_GUARDED_BY(tick_mu_) = false;
  absl::Time last_keep_alive_;  // ticker_'s
  Subscription subscription_;
  std::thread ticker_;  // last: starts after everything it uses
};

}  // namespace cascade::server

#endif  // CASCADE_SERVER_EVENT_FEED_H_
